// dsm ui: the page's only script. On a receipt page it verifies the receipt's bytes in
// the page and shows what it decoded; the server never sends a verdict.
// The verifier (web/verify, PROTOCOL.md §7) is not bundled into dsm ui yet: until it is,
// a receipt is shown as "not verified in this page", never as valid.
for (const section of document.querySelectorAll("section.receipt[data-receipt]")) {
  const verdict = section.querySelector(".verdict");
  verdict.dataset.state = "unavailable";
  verdict.textContent = "Not verified in this page: the verifier is not bundled into dsm ui yet.";
}
