/**
 * Shows a `verifyReceipt` result in a `section.receipt` (`.verdict`, `.checks`, `.facts`):
 * each check by its number and party, and facts only when every check passed (they come
 * from the verified bytes). `lineage` is the result of a lineage check made in the page, if
 * one was: without it the verdict is never shown as fully valid (never green). In the bundle as `DsmVerify.render`, for verify.html and the
 * pages of `dsm ui`. Text only: nothing from the receipt is ever parsed as HTML.
 */
export function render(section, result, lineage) {
  const verdict = section.querySelector('.verdict');
  const checks = section.querySelector('.checks');
  const facts = section.querySelector('.facts');
  checks.replaceChildren();
  facts.replaceChildren();
  const add = (dl, term, value) => {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    dl.append(dt, dd);
  };
  for (const c of result.checks) {
    const who = c.party ? ` (${c.party})` : '';
    const state = c.status === 'pass' ? 'passed' : c.status === 'fail' ? `FAILED: ${c.error ? c.error.message : ''}` : 'not run (an earlier check failed)';
    add(checks, `Check ${c.id}${who}: ${c.name}`, state);
  }
  add(checks, 'Lineage (the parcels back to their source)', lineage || 'not checked in this page');
  if (result.valid) {
    // Never green while the lineage is unchecked: checks 1–8 say the two parties signed a
    // consistent transfer, not that its value traces back to a source (a fabricated root
    // passes them).
    verdict.dataset.state = 'valid';
    verdict.dataset.lineage = lineage ? 'checked' : 'unchecked';
    verdict.textContent = lineage
      ? 'Valid receipt: PROTOCOL.md §7.3 checks 1–8 and its lineage passed in this page.'
      : 'Receipt checks 1–8 of PROTOCOL.md §7.3 passed in this page. Its lineage (where the value came from) is NOT checked here.';
    const f = result.facts;
    add(facts, 'Sender', f.sender);
    add(facts, 'Receiver', f.receiver);
    add(facts, 'Token', f.token);
    add(facts, 'Amount (base units)', f.amount);
    add(facts, 'Receipt digest', f.receipt_digest);
  } else {
    verdict.dataset.state = 'invalid';
    const e = result.error || {};
    verdict.textContent = `Invalid receipt: check ${e.check}${e.party ? ` (${e.party})` : ''} failed${e.message ? `: ${e.message}` : ''}.`;
  }
}
