// Arithmetic expressions for countdown answers: a tiny recursive-descent parser and exact
// rational evaluation on bigints. Safe on any input: the text is length-capped before parsing,
// nesting is depth-capped, nothing is ever passed to eval/Function, and division by zero is a
// result, not an exception.
//
// Grammar (ASCII, whitespace already removed by the caller):
//   expr   := term (('+' | '-') term)*
//   term   := factor (('*' | '/') factor)*
//   factor := number | '(' expr ')'
//   number := [0-9]+            (leading zeros allowed: "07" is 7)
// No unary minus, no other symbols. Operators are left-associative, * and / bind tighter.

export type Op = '+' | '-' | '*' | '/';

export type Expr =
  | { kind: 'num'; /** canonical digits: no leading zeros */ text: string }
  | { kind: 'bin'; op: Op; left: Expr; right: Expr };

/** Longest expression accepted (characters, after whitespace removal). */
export const MAX_EXPR_CHARS = 100;
/** Deepest parenthesis nesting accepted. */
export const MAX_EXPR_DEPTH = 32;

export type ParseResult = { ok: true; expr: Expr } | { ok: false; reason: 'too-long' | 'bad-format' };

class ParseFail extends Error {}

export function parseExpression(src: string): ParseResult {
  if (src.length > MAX_EXPR_CHARS) return { ok: false, reason: 'too-long' };
  let pos = 0;
  const peek = (): string => src[pos] ?? '';

  const number = (): Expr => {
    const start = pos;
    while (pos < src.length && src.charCodeAt(pos) >= 48 && src.charCodeAt(pos) <= 57) pos++;
    if (pos === start) throw new ParseFail();
    return { kind: 'num', text: src.slice(start, pos).replace(/^0+(?=[0-9])/, '') };
  };
  const factor = (depth: number): Expr => {
    if (peek() !== '(') return number();
    if (depth >= MAX_EXPR_DEPTH) throw new ParseFail();
    pos++;
    const e = expr(depth + 1);
    if (peek() !== ')') throw new ParseFail();
    pos++;
    return e;
  };
  const term = (depth: number): Expr => {
    let left = factor(depth);
    for (let c = peek(); c === '*' || c === '/'; c = peek()) {
      pos++;
      left = { kind: 'bin', op: c, left, right: factor(depth) };
    }
    return left;
  };
  const expr = (depth: number): Expr => {
    let left = term(depth);
    for (let c = peek(); c === '+' || c === '-'; c = peek()) {
      pos++;
      left = { kind: 'bin', op: c, left, right: term(depth) };
    }
    return left;
  };

  try {
    const e = expr(0);
    if (pos !== src.length) return { ok: false, reason: 'bad-format' };
    return { ok: true, expr: e };
  } catch (err) {
    if (err instanceof ParseFail) return { ok: false, reason: 'bad-format' };
    throw err;
  }
}

/** The number literals of an expression, left to right (canonical digit strings). */
export function literals(e: Expr, out: string[] = []): string[] {
  if (e.kind === 'num') out.push(e.text);
  else {
    literals(e.left, out);
    literals(e.right, out);
  }
  return out;
}

/** An exact rational n/d with d > 0, in lowest terms. */
export interface Rational {
  n: bigint;
  d: bigint;
}

const gcd = (a: bigint, b: bigint): bigint => {
  a = a < 0n ? -a : a;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
};

function rational(n: bigint, d: bigint): Rational {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d);
  return g > 1n ? { n: n / g, d: d / g } : { n, d };
}

export type EvalResult = { ok: true; value: Rational } | { ok: false; reason: 'division-by-zero' };

/** Exact value of an expression; division by zero anywhere gives { ok: false }. */
export function evaluate(e: Expr): EvalResult {
  if (e.kind === 'num') return { ok: true, value: { n: BigInt(e.text), d: 1n } };
  const l = evaluate(e.left);
  if (!l.ok) return l;
  const r = evaluate(e.right);
  if (!r.ok) return r;
  const { n: a, d: b } = l.value;
  const { n: c, d: d } = r.value;
  switch (e.op) {
    case '+':
      return { ok: true, value: rational(a * d + c * b, b * d) };
    case '-':
      return { ok: true, value: rational(a * d - c * b, b * d) };
    case '*':
      return { ok: true, value: rational(a * c, b * d) };
    case '/':
      if (c === 0n) return { ok: false, reason: 'division-by-zero' };
      return { ok: true, value: rational(a * d, b * c) };
  }
}

const PREC: Record<Op, number> = { '+': 1, '-': 1, '*': 2, '/': 2 };

/** Prints with the fewest parentheses that keep the same tree (so the same exact value). */
export function formatExpr(e: Expr): string {
  if (e.kind === 'num') return e.text;
  const side = (child: Expr, right: boolean): string => {
    const s = formatExpr(child);
    if (child.kind === 'num') return s;
    const pc = PREC[child.op];
    const pp = PREC[e.op];
    // Same precedence on the right needs brackets for - and / (a-(b-c)), and we keep them for
    // + and * too, so the printed tree is the tree (a+(b-c) stays as written).
    const needs = pc < pp || (right && pc === pp);
    return needs ? `(${s})` : s;
  };
  return `${side(e.left, false)}${e.op}${side(e.right, true)}`;
}
