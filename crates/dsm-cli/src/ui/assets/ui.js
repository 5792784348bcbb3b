// dsm ui: the page's only script. Receipts are verified in a Web Worker by the bundled
// verifier (web/verify/dist/verify.js, an independent implementation of PROTOCOL.md §7.3
// in JavaScript) and shown check by check; the server never sends a verdict. A receipt
// page carries the receipt's bytes; the verify page reads a file the user chooses.
const MAX = 1024 * 1024;
let worker = null;
let next = 0;
const waiting = new Map();

function verify(section, hex) {
  if (!worker) {
    worker = new Worker('/assets/verify.js');
    worker.onmessage = (e) => {
      const s = waiting.get(e.data.id);
      waiting.delete(e.data.id);
      if (s) globalThis.DsmVerify.render(s, e.data.result);
    };
  }
  const id = next++;
  waiting.set(id, section);
  worker.postMessage({ id, hex });
}

for (const section of document.querySelectorAll('section.receipt[data-receipt]')) {
  verify(section, section.dataset.receipt);
}

const file = document.getElementById('receipt-file');
if (file) {
  const section = document.querySelector('section.receipt');
  const verdict = section.querySelector('.verdict');
  file.addEventListener('change', async () => {
    const f = file.files && file.files[0];
    if (!f) return;
    if (f.size > MAX) {
      verdict.dataset.state = 'invalid';
      verdict.textContent = 'Not a receipt: the file is larger than 1 MiB.';
      return;
    }
    verdict.dataset.state = 'checking';
    verdict.textContent = 'Checking…';
    const bytes = new Uint8Array(await f.arrayBuffer());
    verify(section, Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(''));
  });
}

// A QR send: the picture cycles through the frames of the message being sent, one every
// 200 ms, as a camera reading a fountain code expects.
for (const img of document.querySelectorAll('img[data-frames]')) {
  let i = 0;
  setInterval(() => {
    i += 1;
    img.src = `${img.dataset.frames}?i=${i}`;
  }, 200);
}
