import assert from 'node:assert/strict'
import { test } from 'node:test'
import { UnsupportedConstructError } from '../../src/filters/unsupported-construct-error.js'

test('the message names the construct and the pattern', () => {
  const err = new UnsupportedConstructError('lookahead (?!', '^a(?!b)')
  assert.equal(err.message, 'unsupported construct "lookahead (?!" in "^a(?!b)"')
  assert.equal(err.code, 'BANSTREAM_ERR_UNSUPPORTED_REGEX')
  assert.equal(err.name, 'UnsupportedConstructError')
})

test('withContext places the refusal in its file and option', () => {
  const err = new UnsupportedConstructError('lookahead (?!', '^a(?!b)').withContext('filter.d/sshd.conf', 'failregex')
  assert.ok(err instanceof UnsupportedConstructError)
  assert.equal(err.file, 'filter.d/sshd.conf')
  assert.equal(err.option, 'failregex')
  assert.equal(err.construct, 'lookahead (?!')
  assert.equal(err.pattern, '^a(?!b)')
  assert.equal(err.message, 'filter.d/sshd.conf: failregex: unsupported construct "lookahead (?!" in "^a(?!b)"')
})
