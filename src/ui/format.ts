/** A relative error or tolerance as "1.23e-7"; 0, NaN and infinities as words. */
export function formatErr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return String(x);
  return x === 0 ? '0' : x.toExponential(2);
}
