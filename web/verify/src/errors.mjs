/**
 * Error type of the strict decoder. `code` is one of the names PROTOCOL.md §3 gives
 * (DefaultPresent, NonMinimalVarint, Length, Missing, UnexpectedField, Invalid,
 * NotCanonical, TooLarge) or, where §3 names none (see GAPS.md), WireType, Order, Truncated,
 * TooMany. `path` locates the offending field, e.g. "Receipt.proposal.proposal.step.amount".
 */
export class DecodeError extends Error {
  constructor(code, message, path = '') {
    super(`${code}${path ? ` at ${path}` : ''}: ${message}`);
    this.name = 'DecodeError';
    this.code = code;
    this.path = path;
    this.detail = message;
  }
}
