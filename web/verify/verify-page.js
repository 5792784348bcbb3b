// verify.html's script (a classic script, so that the page works from file://): verifies
// the chosen receipt file in this page with the bundled verifier and shows each check.
(function () {
  'use strict';
  var MAX = 1024 * 1024; // a receipt is far smaller; larger files are not read
  var section = document.querySelector('section.receipt');
  var verdict = section.querySelector('.verdict');
  document.getElementById('file').addEventListener('change', function (e) {
    var f = e.target.files && e.target.files[0];
    if (!f) return;
    if (f.size > MAX) {
      verdict.dataset.state = 'invalid';
      verdict.textContent = 'Not a receipt: the file is larger than 1 MiB.';
      return;
    }
    verdict.dataset.state = 'checking';
    verdict.textContent = 'Checking…';
    f.arrayBuffer().then(function (buf) {
      var result = globalThis.DsmVerify.verifyReceipt(new Uint8Array(buf));
      globalThis.DsmVerify.render(section, result);
    });
  });
})();
