import assert from 'node:assert/strict'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { validate } from '../../../schemas/events/validate.js'
import { WebhookPayload } from '../../../schemas/notifications/webhook-payload.js'
import {
  DEFAULT_WEBHOOK_RETRIES, DEFAULT_WEBHOOK_TIMEOUT_SECS, WebhookActuator, WebhookInputError, webhookJail, type WebhookJail,
} from '../../../sinks/actuators/webhook-actuator.js'
import { loadAction } from '../../../src/config/action-config.js'
import { builtinConfigDir } from '../../../src/package-root.js'
import { ACTION_BACKENDS } from '../../../src/roles/action-backends.js'
import { ban, lift } from './decision-fixtures.js'

interface Received { readonly headers: IncomingHttpHeaders; readonly body: string }
type Answer = { status: number; body?: string; headers?: Record<string, string> } | 'hang'

/** A real HTTP endpoint answering each request with the next of `answers` (the last one repeats). */
async function endpoint(answers: Answer[]): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      const answer = answers[Math.min(received.length, answers.length) - 1]!
      if (answer === 'hang') return
      res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hooks/banstream?token=t0ps3cret`,
    received,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}

const SECRET = 'correct horse battery staple'
let configDir: string

before(() => {
  configDir = mkdtempSync(join(tmpdir(), 'banstream-webhook-'))
  writeFileSync(join(configDir, 'webhook.secret'), `${SECRET}\n`)
  writeFileSync(join(configDir, 'empty.secret'), '\n')
})
after(() => rmSync(configDir, { recursive: true, force: true }))

function jail(url: string, extra: Record<string, string> = {}): WebhookJail {
  return webhookJail('sshd', { url, secret_file: 'webhook.secret', ...extra }, configDir)
}

/** A backend whose waits between attempts are recorded and skipped. */
function actuator(jails: WebhookJail[]): { backend: WebhookActuator; waits: number[] } {
  const waits: number[] = []
  const backend = new WebhookActuator({
    jails, host: 'mx1', now: () => Date.parse('2026-11-22T06:00:00Z'), retry_delay_ms: 250,
    sleep: async (ms) => { waits.push(ms) },
  })
  return { backend, waits }
}

describe('webhook actuator', () => {
  test('posts a ban as JSON whose HMAC-SHA256 signature over timestamp and body verifies with the secret', async () => {
    const server = await endpoint([{ status: 204 }])
    try {
      const b = { ...ban('sshd', '192.0.2.7', 600), matches: ['sshd[1]: Failed password for root from 192.0.2.7'] }
      const { backend } = actuator([jail(server.url)])
      const outcomes = await backend.actuate([b])
      assert.deepEqual(outcomes, [{ decision_event_id: b.event_id, jail: 'sshd', ip: '192.0.2.7', outcome: 'applied' }])
      const [request] = server.received
      assert.equal(request!.headers['content-type'], 'application/json')
      assert.equal(request!.headers['x-banstream-event-id'], b.event_id)
      const timestamp = request!.headers['x-banstream-timestamp'] as string
      assert.equal(timestamp, String(Date.parse('2026-11-22T06:00:00Z') / 1000))
      const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${request!.body}`).digest('hex')}`)
      const signature = Buffer.from(request!.headers['x-banstream-signature'] as string)
      assert.ok(signature.length === expected.length && timingSafeEqual(signature, expected))
      const body: unknown = JSON.parse(request!.body)
      assert.deepEqual(validate(WebhookPayload, body), { ok: true, value: body })
      assert.deepEqual(body, { ...b, host: 'mx1' })
    } finally {
      await server.close()
    }
  })

  test('posts an unban and reports it removed', async () => {
    const server = await endpoint([{ status: 200, body: 'ok' }])
    try {
      const l = lift(ban('sshd', '2001:db8::/64', 600))
      const { backend } = actuator([jail(server.url)])
      const outcomes = await backend.actuate([l])
      assert.equal(outcomes[0]!.outcome, 'removed')
      const body: unknown = JSON.parse(server.received[0]!.body)
      assert.deepEqual(validate(WebhookPayload, body), { ok: true, value: body })
      assert.deepEqual(body, { ...l, host: 'mx1' })
    } finally {
      await server.close()
    }
  })

  test('retries a 5xx answer with a doubling wait, then reports the ban applied', async () => {
    const server = await endpoint([{ status: 503 }, { status: 502 }, { status: 200 }])
    try {
      const { backend, waits } = actuator([jail(server.url)])
      const outcomes = await backend.actuate([ban('sshd', '192.0.2.8', 600)])
      assert.equal(outcomes[0]!.outcome, 'applied')
      assert.equal(server.received.length, 3)
      assert.deepEqual(waits, [250, 500])
      assert.equal(server.received[0]!.body, server.received[2]!.body)
    } finally {
      await server.close()
    }
  })

  test('fails with the last answer once the retries are used up', async () => {
    const server = await endpoint([{ status: 500, body: 'database down' }])
    try {
      const { backend, waits } = actuator([jail(server.url, { retries: '2' })])
      const [outcome] = await backend.actuate([ban('sshd', '192.0.2.9', 600)])
      assert.equal(outcome!.outcome, 'failed')
      assert.equal(server.received.length, 3)
      assert.deepEqual(waits, [250, 500])
      assert.match(outcome!.error!, /HTTP 500: database down \(after 3 attempts\)/)
    } finally {
      await server.close()
    }
  })

  test('fails at once on a 4xx answer', async () => {
    const server = await endpoint([{ status: 403, body: 'bad signature' }])
    try {
      const { backend, waits } = actuator([jail(server.url)])
      const [outcome] = await backend.actuate([ban('sshd', '192.0.2.10', 600)])
      assert.equal(outcome!.outcome, 'failed')
      assert.equal(server.received.length, 1)
      assert.deepEqual(waits, [])
      assert.match(outcome!.error!, /HTTP 403: bad signature$/)
    } finally {
      await server.close()
    }
  })

  test('does not follow a redirect', async () => {
    const target = await endpoint([{ status: 200 }])
    const server = await endpoint([{ status: 307, headers: { location: target.url } }])
    try {
      const { backend } = actuator([jail(server.url)])
      const [outcome] = await backend.actuate([ban('sshd', '192.0.2.11', 600)])
      assert.equal(outcome!.outcome, 'failed')
      assert.match(outcome!.error!, /HTTP 307/)
      assert.equal(target.received.length, 0)
    } finally {
      await server.close()
      await target.close()
    }
  })

  test('retries a refused connection, then fails with the network error and without the URL token', async () => {
    const server = await endpoint([{ status: 200 }])
    const url = server.url
    await server.close()
    const { backend, waits } = actuator([jail(url, { retries: '1' })])
    const [outcome] = await backend.actuate([ban('sshd', '192.0.2.12', 600)])
    assert.equal(outcome!.outcome, 'failed')
    assert.deepEqual(waits, [250])
    assert.match(outcome!.error!, /ECONNREFUSED/)
    assert.doesNotMatch(outcome!.error!, /t0ps3cret/)
  })

  test('gives up on an attempt that outlives the timeout', async () => {
    const server = await endpoint(['hang'])
    try {
      const { backend } = actuator([jail(server.url, { timeout: '0.2', retries: '0' })])
      const [outcome] = await backend.actuate([ban('sshd', '192.0.2.13', 600)])
      assert.equal(outcome!.outcome, 'failed')
      assert.match(outcome!.error!, /timeout/i)
    } finally {
      await server.close()
    }
  })

  test('fails a decision of a jail without a webhook action and delivers the rest in order', async () => {
    const server = await endpoint([{ status: 200 }])
    try {
      const { backend } = actuator([jail(server.url)])
      const first = ban('sshd', '192.0.2.14', 600)
      const outcomes = await backend.actuate([ban('postfix', '192.0.2.15', 600), first, lift(first)])
      assert.deepEqual(outcomes.map((o) => o.outcome), ['failed', 'applied', 'removed'])
      assert.deepEqual(server.received.map((r) => JSON.parse(r.body).type), ['BanIssued', 'BanLifted'])
    } finally {
      await server.close()
    }
  })
})

describe('webhook action arguments', () => {
  test('refuses a URL that is not http or https', () => {
    for (const url of ['ftp://example.net/x', 'file:///etc/passwd', 'javascript:alert(1)']) {
      assert.throws(() => jail(url), WebhookInputError, url)
    }
  })

  test('refuses a URL with a user or password, a missing URL and a relative one', () => {
    assert.throws(() => jail('https://user:pw@example.net/x'), /user or password/)
    assert.throws(() => jail(''), /needs url/)
    assert.throws(() => jail('/hooks'), /not a URL/)
  })

  test('refuses a missing, unreadable or empty secret_file', () => {
    assert.throws(() => webhookJail('sshd', { url: 'https://example.net/' }, configDir), /needs secret_file/)
    assert.throws(() => webhookJail('sshd', { url: 'https://example.net/', secret_file: 'absent.secret' }, configDir), /cannot read/)
    assert.throws(() => webhookJail('sshd', { url: 'https://example.net/', secret_file: 'empty.secret' }, configDir), /is empty/)
  })

  test('refuses a timeout or retries out of range', () => {
    assert.throws(() => jail('https://example.net/', { timeout: '0' }), /timeout/)
    assert.throws(() => jail('https://example.net/', { retries: '1.5' }), /retries/)
    assert.throws(() => jail('https://example.net/', { retries: '99' }), /retries/)
  })

  test('reads a relative secret_file from the configuration directory and trims its newline', () => {
    const settings = jail('https://example.net/hook', { timeout: '2.5', retries: '0' })
    assert.equal(settings.secret.toString(), SECRET)
    assert.equal(settings.timeout_secs, 2.5)
    assert.equal(settings.retries, 0)
    assert.equal(settings.url.href, 'https://example.net/hook')
  })

  test('config/action.d/webhook.conf loads with the backend defaults as its [Init] options', () => {
    const action = loadAction(join(builtinConfigDir(), 'action.d'), 'webhook', { url: 'https://example.net/' }, { jailName: 'sshd', jailOptions: new Map() })
    assert.equal(action.options['url'], 'https://example.net/')
    assert.equal(action.options['timeout'], String(DEFAULT_WEBHOOK_TIMEOUT_SECS))
    assert.equal(action.options['retries'], String(DEFAULT_WEBHOOK_RETRIES))
    assert.equal(action.options['actionban'], '')
  })

  test('the webhook backend kind claims the webhook action', () => {
    assert.equal(ACTION_BACKENDS.map((k) => k.claims({ name: 'webhook', args: {} })).find((key) => key !== undefined), 'webhook')
  })
})
