/**
 * The one shipped bundle (`npm run build` → dist/verify.js, an IIFE): it defines
 * `globalThis.DsmVerify` (the API of index.mjs) wherever it is loaded — a page, a Web
 * Worker, or node — and, loaded as a Web Worker, answers `{id, hex}` messages with
 * `{id, result}` (the result of `verifyReceipt`, PROTOCOL.md §7.3 checks 1–8). `dsm ui`
 * embeds this same file; verify.html loads it from file://; the node tests load it too.
 */
import * as api from './index.mjs';
import { hexToBytes } from './bytes.mjs';
import { render } from './render.mjs';

globalThis.DsmVerify = { ...api, render };

const inWorker = typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope;
if (inWorker) {
  globalThis.onmessage = (e) => {
    const { id, hex } = e.data || {};
    let result;
    try {
      result = api.verifyReceipt(hexToBytes(String(hex)));
    } catch (err) {
      result = { valid: false, error: { check: '2', code: 'Unreadable', message: String(err && err.message) }, checks: [], facts: null };
    }
    globalThis.postMessage({ id, result });
  };
}
