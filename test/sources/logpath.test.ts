import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseLogPaths } from '../../src/sources/logpath.js'

describe('parseLogPaths', () => {
  test('reads one path per line with an optional tail or head', () => {
    assert.deepEqual(parseLogPaths('/var/log/auth.log\n  /var/log/mail*.log tail\n\n/var/log/x.log HEAD'), [
      { pattern: '/var/log/auth.log', start_at: 'head' },
      { pattern: '/var/log/mail*.log', start_at: 'tail' },
      { pattern: '/var/log/x.log', start_at: 'head' },
    ])
  })

  test('keeps a path with a space whole', () => {
    assert.deepEqual(parseLogPaths('/srv/My Logs/app.log'), [{ pattern: '/srv/My Logs/app.log', start_at: 'head' }])
  })
})
