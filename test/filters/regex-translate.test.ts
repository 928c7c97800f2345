import assert from 'node:assert/strict'
import { test } from 'node:test'
import RE2 from 're2'
import { translateRegex } from '../../src/filters/regex-translate.js'
import { UnsupportedConstructError } from '../../src/filters/unsupported-construct-error.js'

const SPACE = String.raw`\x{9}-\x{d}\x{1c}- \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}-\x{2029}\x{202f}\x{205f}\x{3000}`

/** Python pattern → [RE2 source, prefilter source]. */
const TABLE: [string, string, string][] = [
  ['a{,3}', 'a{0,3}', 'a{0,3}'],
  ['a{2,}', 'a{2,}', 'a{2,}'],
  ['a{,}', 'a{0,}', 'a{0,}'],
  ['a{2}', 'a{2}', 'a{2}'],
  ['a{2,3}?', 'a{2,3}?', 'a{2,3}?'],
  ['a{', String.raw`a\{`, String.raw`a\{`],
  ['{x}', String.raw`\{x\}`, String.raw`\{x\}`],
  ['a{ 2}', String.raw`a\{ 2\}`, String.raw`a\{ 2\}`],
  [String.raw`x\Z`, String.raw`x\z`, 'x'],
  [String.raw`\Ax`, String.raw`\Ax`, 'x'],
  ['^x$', '^x$', 'x'],
  [String.raw`\bx\B`, String.raw`\bx\B`, 'x'],
  ['(?P<user>a)', '(?P<user>a)', '(?:a)'],
  ['(a)', '(a)', '(?:a)'],
  ['(?:a)', '(?:a)', '(?:a)'],
  [String.raw`\d`, String.raw`\p{Nd}`, String.raw`[0-9\x{80}-\x{10ffff}]`],
  [String.raw`\D`, String.raw`\P{Nd}`, '[^0-9]'],
  [String.raw`\w`, String.raw`[\p{L}\p{N}_]`, String.raw`[0-9A-Z_a-z\x{80}-\x{10ffff}]`],
  [String.raw`\W`, String.raw`[^\p{L}\p{N}_]`, '[^0-9A-Z_a-z]'],
  [String.raw`\s`, `[${SPACE}]`, `[${SPACE}]`],
  [String.raw`\S`, `[^${SPACE}]`, `[^${SPACE}]`],
  [String.raw`(?a)\d\w\s\S`, String.raw`[0-9][0-9A-Z_a-z][\x{9}-\x{d} ][^\x{9}-\x{d} ]`, String.raw`[0-9][0-9A-Z_a-z][\x{9}-\x{d} ][^\x{9}-\x{d} ]`],
  [String.raw`(?a:\w)\w`, String.raw`(?:[0-9A-Z_a-z])[\p{L}\p{N}_]`, String.raw`(?:[0-9A-Z_a-z])[0-9A-Z_a-z\x{80}-\x{10ffff}]`],
  ['(?i)abc', '(?i)abc', '(?i)abc'],
  ['a(?i)b', '(?i)ab', '(?i)ab'],
  ['(?ms)^a.', '(?ms)^a.', '(?ms)a.'],
  ['(?i-s:a.)', '(?i-s:a.)', '(?i-s:a.)'],
  ['(?-i:a)', '(?-i:a)', '(?-i:a)'],
  ['(?u:a)', '(?:a)', '(?:a)'],
  ['(?x) a b # comment\n c', 'abc', 'abc'],
  [String.raw`(?x)a\ b[ ]`, String.raw`a b[ ]`, String.raw`a b[ ]`],
  ['(?x:a b)c d', '(?:ab)c d', '(?:ab)c d'],
  ['a(?#a comment)b', 'ab', 'ab'],
  [String.raw`\x41\u00e9\U0001F600`, 'Aé😀', 'Aé😀'],
  [String.raw`\0\07\101`, String.raw`\x{0}\x{7}A`, String.raw`\x{0}\x{7}A`],
  [String.raw`\t\n\r\f\v\a`, String.raw`\x{9}\x{a}\x{d}\x{c}\x{b}\x{7}`, String.raw`\x{9}\x{a}\x{d}\x{c}\x{b}\x{7}`],
  [String.raw`\.\-\/\é\\`, String.raw`\.-/é\\`, String.raw`\.-/é\\`],
  ['[]a-]', String.raw`[\]a\-]`, String.raw`[\]a\-]`],
  ['[^]a]', String.raw`[^\]a]`, String.raw`[^\]a]`],
  ['[[:alpha:]]', String.raw`[\[:alpha:]\]`, String.raw`[\[:alpha:]\]`],
  [String.raw`[\b\1]`, String.raw`[\x{8}\x{1}]`, String.raw`[\x{8}\x{1}]`],
  [String.raw`[\x41-\x5a\d]`, String.raw`[A-Z\p{Nd}]`, String.raw`[A-Z0-9\x{80}-\x{10ffff}]`],
  [String.raw`[\W.]`, String.raw`(?:[.]|[^\p{L}\p{N}_])`, '[\\x{0}-/:-@\\[-\\^`{-\\x{10ffff}.]'],
  [String.raw`[^\W]`, String.raw`[\p{L}\p{N}_]`, String.raw`[0-9A-Z_a-z\x{80}-\x{10ffff}]`],
  [String.raw`[^\D]`, String.raw`\p{Nd}`, String.raw`[0-9\x{80}-\x{10ffff}]`],
  [String.raw`[^\d]`, String.raw`\P{Nd}`, String.raw`[^0-9]`],
  [String.raw`[^\w.]`, String.raw`[^\p{L}\p{N}_.]`, String.raw`[^0-9A-Z_a-z.]`],
  ['a*?b+?c??', 'a*?b+?c??', 'b+?'],
  [String.raw`x?(?:y)*z\s+|a?|(?:b)?c?`, String.raw`x?(?:y)*z[${SPACE}]+|a?|(?:b)?c?`, String.raw`z[${SPACE}]+|a?|(?:b)?c?`],
  [String.raw`(?:\S+\s+)?(?:a|b)? from x{0,2}`, String.raw`(?:[^${SPACE}]+[${SPACE}]+)?(?:a|b)? from x{0,2}`, ' from '],
  ['a|b', 'a|b', 'a|b'],
]

test('translates each Python construct to its RE2 form and its prefilter form', () => {
  for (const [python, source, prefilter] of TABLE) {
    const t = translateRegex(python)
    assert.equal(t.source, source, `source of ${python}`)
    assert.equal(t.prefilterSource, prefilter, `prefilter of ${python}`)
    assert.doesNotThrow(() => new RE2(t.source, 'u'), `RE2 compiles ${t.source}`)
    assert.doesNotThrow(() => new RE2(t.prefilterSource, 'u'), `RE2 compiles ${t.prefilterSource}`)
  }
})

/** Runs the translation of a Python pattern on a string, returning the matched text. */
function search(python: string, input: string): string | null {
  const m = new RE2(translateRegex(python).source, 'u').exec(Buffer.from(input))
  return m === null ? null : m[0].toString('utf8')
}

test('\\w, \\d and \\s match Unicode characters as Python 3 str patterns do', () => {
  assert.equal(search(String.raw`\w+`, ' josé_ß9 '), 'josé_ß9')
  assert.equal(search(String.raw`\d+`, 'x٣4'), '٣4')
  assert.equal(search(String.raw`a\sb`, 'a\u00a0b'), 'a\u00a0b')
  assert.equal(search(String.raw`a\sb`, 'a\vb'), 'a\vb')
  assert.equal(search(String.raw`\S+`, 'x\u2003y'), 'x')
})

test('the ASCII flag restricts \\w, \\d and \\s to ASCII as in Python', () => {
  assert.equal(search(String.raw`(?a)\w+`, 'josé'), 'jos')
  assert.equal(search(String.raw`(?a)\d`, '٣'), null)
})

test('a class with \\W matches non-word characters and its other members', () => {
  assert.equal(search(String.raw`[\W5]+`, 'ab-5 é'), '-5 ')
})

test('[[:alpha:]] keeps Python meaning (a class of [:alph followed by ]) rather than a POSIX class', () => {
  assert.equal(search('[[:alpha:]]', 'b'), null)
  assert.equal(search('[[:alpha:]]', ':]'), ':]')
})

test('global flags apply to the whole pattern wherever they are written', () => {
  assert.equal(search('x(?i)Y', 'XY'), 'XY')
  assert.equal(search('(?x)a b', 'ab'), 'ab')
})

test('duplicate group names get distinct RE2 names mapped to the same name', () => {
  const t = translateRegex('(?P<user>a)|(?P<user>b)|(?P<user__2>c)')
  assert.deepEqual(t.groups, [
    { name: 'user', re2Name: 'user' },
    { name: 'user', re2Name: 'user__2' },
    { name: 'user__2', re2Name: 'user__2__2' },
  ])
  assert.doesNotThrow(() => new RE2(t.source, 'u'))
})

/** Pattern → the construct named in the refusal. */
const REFUSALS: [string, string][] = [
  ['a(?=b)', 'lookahead (?='],
  ['a(?!b)', 'lookahead (?!'],
  ['(?<=a)b', 'lookbehind (?<='],
  ['(?<!a)b', 'lookbehind (?<!'],
  [String.raw`(a)\1`, String.raw`backreference \1`],
  [String.raw`(a)\12`, String.raw`backreference \12`],
  ['(?P<id>a)(?P=id)', 'backreference (?P=id)'],
  ['(?P<id>a)?(?(id)b|c)', 'conditional (?('],
  ['(?>a)', 'atomic group (?>'],
  ['a*+', 'possessive quantifier *+'],
  ['a++', 'possessive quantifier ++'],
  ['a?+', 'possessive quantifier ?+'],
  ['a{2,3}+', 'possessive quantifier {2,3}+'],
  ['a{1001}', 'repetition count above 1000 {1001}'],
  [String.raw`\N{DIGIT ONE}`, String.raw`named unicode escape \N{...}`],
  ['(?L)a', 'locale flag (?L)'],
  [String.raw`[^\W\d]`, String.raw`negated character class with \W and other members [^\W...]`],
]

test('refuses every construct RE2 cannot run with the same meaning, naming it', () => {
  for (const [pattern, construct] of REFUSALS) {
    assert.throws(() => translateRegex(pattern), (err: unknown) => {
      assert.ok(err instanceof UnsupportedConstructError, `${pattern} throws UnsupportedConstructError`)
      assert.equal(err.construct, construct)
      assert.equal(err.pattern, pattern)
      assert.equal(err.message, `unsupported construct "${construct}" in "${pattern}"`)
      return true
    })
  }
})

test('a lookahead inside a character class is a literal, not a refusal', () => {
  assert.equal(search('[(?!]+', 'x(?!y'), '(?!')
})

test('three octal digits are a character, not a backreference', () => {
  assert.equal(search(String.raw`\101`, 'A'), 'A')
})

test('Python syntax errors are refused as invalid regexes', () => {
  for (const pattern of ['*a', 'a**', '(a', 'a)', '[a', String.raw`\q`, 'a{3,2}', String.raw`[\w-z]`, '(?P<1a>x)', '^*']) {
    assert.throws(() => translateRegex(pattern), (err: unknown) =>
      err instanceof UnsupportedConstructError && err.construct.startsWith('invalid regex: '), pattern)
  }
})

test('the prefilter matches every string containing a match of the regex', () => {
  const cases: [string, string][] = [
    [String.raw`^\[(?P<id>\d+)\] failed from (?P<ip>\S+)$`, '[12] failed from 1.2.3.4'],
    [String.raw`\bfoo\b\Z`, 'foo'],
    [String.raw`(?m)^a$\n^b$`, 'a\nb'],
    [String.raw`(?i)^USER (?:\w+|-)$`, 'user josé'],
    [String.raw`\Ax(?:^|y)+$`, 'xyy'],
    [String.raw`[^\w.]\d\W\D[\w-][^\d]`, '!٣-é-\u00a0'],
    [String.raw`(?P<u>\w+)[^\W][^\D]\S\s`, 'josé9٣ü\u2003'],
  ]
  for (const [python, matched] of cases) {
    const t = translateRegex(python)
    assert.ok(new RE2(t.source, 'u').test(Buffer.from(matched)), `${python} matches ${matched}`)
    const prefilter = new RE2(t.prefilterSource, 'u')
    for (const around of [matched, `prefix ${matched}`, `${matched} suffix`, `a\n${matched}\nb`]) {
      assert.ok(prefilter.test(Buffer.from(around)), `prefilter of ${python} matches ${JSON.stringify(around)}`)
    }
  }
})

test('the capture form drops the captures of plain groups, so capture i + 1 is the i-th named group', () => {
  const t = translateRegex(String.raw`(a|b)(?P<user>\w+) ((?P<host>\S+))`)
  assert.equal(t.captureSource, String.raw`(?:a|b)(?P<user>[\p{L}\p{N}_]+) (?:(?P<host>[^${SPACE}]+))`)
  const m = new RE2(t.captureSource, 'u').exec('bjosé 192.0.2.1')
  assert.deepEqual([...(m ?? [])], ['bjosé 192.0.2.1', 'josé', '192.0.2.1'])
})

test('the ASCII form matches and captures on ASCII text exactly what the capture form does', () => {
  const ascii = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('')
  const inputs = [ascii, 'Failed password for root from 192.0.2.1 port 22 ssh2', 'a\nb\r\x1c\x1f c', 'KkSs_9 x.y', '']
  const patterns = [
    String.raw`\d+`, String.raw`\D+`, String.raw`\w+`, String.raw`\W+`, String.raw`\s+`, String.raw`\S+`,
    String.raw`(?a)\s+\S+`, String.raw`[\W.]+`, String.raw`[^\w.]+`, String.raw`[^\s]+`, String.raw`[^\W]+`, '[^k]+',
    '(?i)[^k]+', '(?i)[^\\s]+k', '(?i:[^s]+)[^s]', '(?i)K.', '.+', '(?s).+', '(?s:a.)b', '(?m)^.$', String.raw`[\x41-\x5a\d]+`,
    String.raw`(?P<a>\S+)\s+(?P<b>.*?)(?P<c>\d*)$`,
  ]
  for (const python of patterns) {
    const t = translateRegex(python)
    const full = new RE2(t.captureSource, 'u')
    const small = new RE2(t.asciiSource, 'u')
    for (const input of inputs) {
      const expected = full.exec(input)
      const actual = small.exec(input)
      assert.deepEqual(actual && [...actual], expected && [...expected], `${python} (${t.asciiSource}) on ${JSON.stringify(input)}`)
      assert.equal(actual?.index, expected?.index)
    }
  }
})

test('the ASCII form restricts classes and . to ASCII, keeping negated classes negated under (?i)', () => {
  assert.equal(translateRegex(String.raw`\S+ \d .`).asciiSource, String.raw`[^\x{9}-\x{d}\x{1c}- \x{80}-\x{10ffff}]+ [0-9] [\x{0}-\x{9}\x{b}-\x{7f}]`)
  assert.equal(translateRegex('(?i)[^k]').asciiSource, '(?i)[^k]')
})

test('matching stays linear: nested quantifiers on a 1 MiB line return the right answer', () => {
  const line = Buffer.from('a'.repeat(1 << 20))
  assert.equal(new RE2(translateRegex('(a+)+b').source, 'u').test(line), false)
  assert.equal(new RE2(translateRegex('^(a|aa)*$').source, 'u').test(line), true)
  assert.equal(new RE2(translateRegex(String.raw`^(\w+\s?)*!$`).source, 'u').test(line), false)
  const short = Buffer.from('a'.repeat(64) + 'c')
  assert.equal(new RE2(translateRegex('(a*)*b').source, 'u').test(short), false)
})
