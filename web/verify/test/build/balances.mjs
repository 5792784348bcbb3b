/**
 * Test-only builder: balance arithmetic of PROTOCOL.md §5.1 — amounts are BigInt, encoded
 * u128be; balances strictly ascending by token; a zero balance is removed.
 */
import { bigIntToU128be, u128beToBigInt, compare, equal } from '../../src/bytes.mjs';

/** §5.1: the balance of `token` in `balances` (0n if none). */
export function balanceOf(balances, token) {
  const b = balances.find((x) => equal(x.token, token));
  return b ? u128beToBigInt(b.amount) : 0n;
}

/** §5.1: `balances` with `delta` (BigInt, may be negative) added to `token`; checked, sorted, zero removed. */
export function addBalance(balances, token, delta) {
  const v = balanceOf(balances, token) + delta;
  if (v < 0n) throw new RangeError('insufficient balance');
  const rest = balances.filter((x) => !equal(x.token, token));
  if (v > 0n) rest.push({ token, amount: bigIntToU128be(v) });
  return rest.sort((x, y) => compare(x.token, y.token));
}
