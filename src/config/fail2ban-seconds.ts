/**
 * fail2ban's duration syntax (mytime.py MyTime.str2seconds): `10m`, `1h 30m`,
 * `1d12h`, `1year-6mo`, `-1`, `600`, `2*60`. fail2ban rewrites the units into
 * multiplications, turns blanks between numbers into `+`, and hands the result
 * to Python's eval. We do the same rewriting, then evaluate the arithmetic
 * ourselves: numbers, + - * / // % **, unary signs and parentheses — what such
 * a rewrite can produce — and refuse anything else.
 */

/** Thrown for text that is not a fail2ban duration or number expression. */
export class DurationSyntaxError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DurationSyntaxError'
  }
}

const DAY = 24 * 60 * 60
// fail2ban's month and year respect leap years: a year is 365.25 days, a month a twelfth of it.
const YEAR = ((365 * 3 + 366) * DAY) / 4

// Order and spellings as in mytime.py: minutes come after months, so `m`/`mm` are minutes and `mo`/`mon` months.
const UNITS: ReadonlyArray<readonly [RegExp, number]> = [
  [/(?<=[\d\s])(days?|da|dd?)\b/gi, DAY],
  [/(?<=[\d\s])(weeks?|wee?|ww?)\b/gi, 7 * DAY],
  [/(?<=[\d\s])(months?|mon?)\b/gi, YEAR / 12],
  [/(?<=[\d\s])(years?|yea?|yy?)\b/gi, YEAR],
  [/(?<=[\d\s])(seconds?|sec?|ss?)\b/gi, 1],
  [/(?<=[\d\s])(minutes?|min?|mm?)\b/gi, 60],
  [/(?<=[\d\s])(hours?|hou?|hh?)\b/gi, 60 * 60],
]

/** Seconds for a fail2ban duration; may be fractional or negative (`-1` is fail2ban's "forever"). */
export function str2seconds(text: string): number {
  // '1d12h' -> '1d 12h'
  let expr = text.replace(/(?<=[a-z])(\d)/gi, ' $1')
  for (const [unit, secs] of UNITS) expr = expr.replace(unit, `*${secs}`)
  expr = expr.replace(/(\d)\s+(\d)/g, '$1+$2')
  return evaluate(expr)
}

/** The value of an arithmetic Python expression of numbers (what fail2ban evals for bantime.factor). */
export function evaluate(expr: string): number {
  const tokens = tokenize(expr)
  let pos = 0
  const peek = () => tokens[pos]
  const next = () => tokens[pos++]
  const fail = (why: string): never => { throw new DurationSyntaxError(`${why} in '${expr.trim()}'`) }

  const sum = (): number => {
    let value = product()
    for (let op = peek(); op === '+' || op === '-'; op = peek()) {
      next()
      value = op === '+' ? value + product() : value - product()
    }
    return value
  }
  const product = (): number => {
    let value = unary()
    for (let op = peek(); op === '*' || op === '/' || op === '//' || op === '%'; op = peek()) {
      next()
      const right = unary()
      if (op === '*') { value *= right; continue }
      if (right === 0) fail('division by zero')
      // Python's // and % round toward negative infinity.
      if (op === '/') value /= right
      else if (op === '//') value = Math.floor(value / right)
      else value = value - right * Math.floor(value / right)
    }
    return value
  }
  const unary = (): number => {
    const op = peek()
    if (op === '+' || op === '-') {
      next()
      const value = unary()
      return op === '-' ? -value : value
    }
    return power()
  }
  const power = (): number => {
    const base = atom()
    if (peek() !== '**') return base
    next()
    return base ** unary()
  }
  const atom = (): number => {
    const token = next()
    if (token === undefined) return fail('unexpected end')
    if (token === '(') {
      const value = sum()
      if (next() !== ')') fail('missing )')
      return value
    }
    if (typeof token === 'number') return token
    return fail(`unexpected '${token}'`)
  }

  if (tokens.length === 0) fail('empty expression')
  const value = sum()
  if (pos < tokens.length) fail(`unexpected '${String(tokens[pos])}'`)
  if (!Number.isFinite(value)) fail('not a finite number')
  return value
}

type Token = number | '+' | '-' | '*' | '/' | '//' | '%' | '**' | '(' | ')'

const TOKEN = /\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(\*\*|\/\/|[-+*/%()]))/y

function tokenize(expr: string): Token[] {
  const tokens: Token[] = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < expr.length) {
    const start = TOKEN.lastIndex
    const m = TOKEN.exec(expr)
    if (!m) {
      if (expr.slice(start).trim() === '') break
      throw new DurationSyntaxError(`unexpected '${expr.slice(start).trim()}' in '${expr.trim()}'`)
    }
    if (m[1] !== undefined) {
      // Python 3 refuses decimal integers with a leading zero (010), so fail2ban does too.
      if (/^0\d*[1-9]\d*$/.test(m[1])) throw new DurationSyntaxError(`'${m[1]}' is not a number Python accepts`)
      tokens.push(Number(m[1]))
    } else {
      tokens.push(m[2] as Token)
    }
  }
  return tokens
}
