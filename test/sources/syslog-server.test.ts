import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { senderList, SyslogServer } from '../../src/sources/syslog-server.js'
import { collector, waitFor } from './wait-for.js'

const sink = collector()
const server = new SyslogServer({
  udp: { address: '127.0.0.1', port: 0 },
  tcp: { address: '127.0.0.1', port: 0 },
  max_message_bytes: 256,
  time_zone: 'Europe/Zurich',
  log: () => undefined,
})
before(async () => {
  await server.start(sink.emit)
})
after(async () => {
  await server.stop()
})

async function sendUdp(message: string | Buffer): Promise<void> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve, reject) =>
    socket.send(message, server.addresses().udp!.port, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
  )
  socket.close()
}

async function sendTcp(...writes: string[]): Promise<void> {
  const socket = connect(server.addresses().tcp!.port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  for (const write of writes) await new Promise<void>((resolve) => socket.write(write, () => resolve()))
  await new Promise<void>((resolve) => socket.end(resolve))
}

/** The lines that arrived after `from`, once there are `count` of them. */
async function linesAfter(from: number, count: number): Promise<string[]> {
  await waitFor(() => sink.lines().length >= from + count, `${count} lines`)
  return sink.lines().slice(from)
}

describe('SyslogServer', () => {
  test('UDP: an RFC 3164 message becomes its file line, with stream syslog and its HOSTNAME as host', async () => {
    const from = sink.lines().length
    await sendUdp('<38>Aug 14 11:58:58 bastion sshd[1234]: Failed password for root from 192.0.2.7 port 22 ssh2')
    assert.deepEqual(await linesAfter(from, 1), ['Aug 14 11:58:58 bastion sshd[1234]: Failed password for root from 192.0.2.7 port 22 ssh2'])
    const batch = sink.batches.at(-1)!
    assert.equal(batch.stream, 'syslog')
    assert.equal(batch.host, 'bastion')
  })

  test('UDP: an RFC 5424 message becomes its file line in the configured zone', async () => {
    const from = sink.lines().length
    await sendUdp('<86>1 2005-08-14T10:00:01.5Z mail1 postfix/smtpd 777 - - NOQUEUE: reject: RCPT from unknown[198.51.100.3]')
    assert.deepEqual(await linesAfter(from, 1), ['Aug 14 12:00:01 mail1 postfix/smtpd[777]: NOQUEUE: reject: RCPT from unknown[198.51.100.3]'])
  })

  test('TCP: newline framing, a message split across writes included', async () => {
    const from = sink.lines().length
    await sendTcp('<13>Aug 14 12:00:00 web1 app: one\n<13>Aug 14 12:00:01 web1 app: t', 'wo\n<13>Aug 14 12:00:02 web1 app: three\n')
    assert.deepEqual(await linesAfter(from, 3), [
      'Aug 14 12:00:00 web1 app: one',
      'Aug 14 12:00:01 web1 app: two',
      'Aug 14 12:00:02 web1 app: three',
    ])
  })

  test('TCP: octet counting (RFC 6587), RFC 5424 with a newline inside a message', async () => {
    const first = '<34>1 2005-08-14T10:00:00Z db1 sshd 42 - - invalid user\nroot'
    const second = '<34>Aug 14 12:00:05 db1 sshd[42]: second'
    const from = sink.lines().length
    await sendTcp(`${Buffer.byteLength(first)} ${first}${Buffer.byteLength(second)} ${second}`)
    assert.deepEqual(await linesAfter(from, 2), ['Aug 14 12:00:00 db1 sshd[42]: invalid user#012root', 'Aug 14 12:00:05 db1 sshd[42]: second'])
  })

  test('bad frames are counted and the server keeps serving', async () => {
    const badBefore = server.counters().bad_frames!
    await sendUdp(Buffer.alloc(0))
    await sendTcp('0 ', '\n')
    const from = sink.lines().length
    await sendUdp('<13>Aug 14 12:00:09 web2 app: still here')
    assert.deepEqual(await linesAfter(from, 1), ['Aug 14 12:00:09 web2 app: still here'])
    await waitFor(() => server.counters().bad_frames === badBefore + 2, 'both bad frames counted')
  })

  test('an oversized message is cut and counted', async () => {
    const from = sink.lines().length
    await sendTcp(`<13>Aug 14 12:00:10 web3 app: ${'x'.repeat(400)}\n`)
    const [line] = await linesAfter(from, 1)
    assert.equal(line, `Aug 14 12:00:10 web3 app: ${'x'.repeat(256 - '<13>Aug 14 12:00:10 web3 app: '.length)}`)
    assert.equal(server.counters().oversized, 1)
  })
})

test('TCP connections past max_connections are dropped on accept and counted; those held keep delivering', async () => {
  const lines = collector()
  const small = new SyslogServer({ tcp: { address: '127.0.0.1', port: 0 }, max_connections: 2, log: () => undefined })
  await small.start(lines.emit)
  try {
    const port = small.addresses().tcp!.port
    const open = async () => {
      const socket = connect(port, '127.0.0.1')
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
      return socket
    }
    const held = [await open(), await open()]
    const third = await open()
    await waitFor(() => small.counters().refused_connections === 1, 'the third connection dropped')
    third.destroy()
    held[1]!.write('<13>Aug 14 12:00:11 web4 app: still delivered\n')
    await waitFor(() => lines.lines().length === 1, 'a held connection delivering')
    assert.deepEqual(lines.lines(), ['Aug 14 12:00:11 web4 app: still delivered'])
    for (const socket of held) socket.destroy()
  } finally {
    await small.stop()
  }
})

test('one sender holds at most max_connections_per_sender TCP connections; another sender still gets in', async () => {
  const lines = collector()
  const server = new SyslogServer({ tcp: { address: '127.0.0.1', port: 0 }, max_connections_per_sender: 2, log: () => undefined })
  await server.start(lines.emit)
  const sockets: ReturnType<typeof connect>[] = []
  try {
    const port = server.addresses().tcp!.port
    const open = async (from: string) => {
      const socket = connect({ port, host: '127.0.0.1', localAddress: from })
      sockets.push(socket.on('error', () => undefined))
      await new Promise<void>((resolve) => socket.once('connect', resolve))
      return socket
    }
    await open('127.0.0.1')
    await open('127.0.0.1')
    const third = await open('127.0.0.1')
    await new Promise<void>((resolve) => third.once('close', () => resolve()))
    assert.equal(server.counters()['refused_connections'], 1)
    const other = await open('127.0.0.2')
    other.write('<13>Aug 14 12:00:12 web5 app: another sender\n')
    await waitFor(() => lines.lines().length === 1, 'the other sender delivering')
    assert.deepEqual(lines.lines(), ['Aug 14 12:00:12 web5 app: another sender'])
  } finally {
    for (const socket of sockets) socket.destroy()
    await server.stop()
  }
})

test("a sender's TCP connection is probed with keepalive, so one that vanished without closing frees its slot", async () => {
  const port = server.addresses().tcp!.port
  const socket = connect(port, '127.0.0.1')
  try {
    const local = await new Promise<number>((resolve) => socket.once('connect', () => resolve(socket.localPort!)))
    // The server's end of this connection, as the kernel shows it: its timer is keepalive's.
    const shown = () => execFileSync('ss', ['-tno', 'state', 'established', `( sport = :${port} and dport = :${local} )`], { encoding: 'utf8' })
    await waitFor(() => shown().includes(`127.0.0.1:${local}`), 'the accepted connection')
    assert.match(shown(), /timer:\(keepalive,/)
  } finally {
    socket.destroy()
  }
})

describe('SyslogServer with allowed senders', () => {
  const allowed = collector()
  const server = new SyslogServer({
    udp: { address: '127.0.0.1', port: 0 },
    tcp: { address: '127.0.0.1', port: 0 },
    allowed_senders: ['192.0.2.0/24', '127.0.0.2'],
    log: () => undefined,
  })
  before(async () => {
    await server.start(allowed.emit)
  })
  after(async () => {
    await server.stop()
  })

  async function udpFrom(address: string, message: string): Promise<void> {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()))
    await new Promise<void>((resolve, reject) => socket.send(message, server.addresses().udp!.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())))
    socket.close()
  }

  test('a datagram from a listed address is received, one from elsewhere is dropped and counted', async () => {
    await udpFrom('127.0.0.1', '<38>Aug 14 11:58:58 forged sshd[1]: Failed password for root from 192.0.2.66 port 22 ssh2')
    await udpFrom('127.0.0.2', '<38>Aug 14 11:58:59 bastion sshd[2]: Failed password for root from 192.0.2.7 port 22 ssh2')
    await waitFor(() => allowed.lines().length === 1 && server.counters()['refused_senders'] === 1, 'one line, one refusal')
    assert.deepEqual(allowed.lines(), ['Aug 14 11:58:59 bastion sshd[2]: Failed password for root from 192.0.2.7 port 22 ssh2'])
  })

  test('a connection from an address not listed is closed before it is read', async () => {
    const socket = connect({ port: server.addresses().tcp!.port, host: '127.0.0.1', localAddress: '127.0.0.1' })
    socket.on('error', () => undefined)
    socket.write('<38>Aug 14 11:59:00 forged sshd[3]: Failed password for root from 192.0.2.66 port 22 ssh2\n')
    await new Promise<void>((resolve) => socket.once('close', () => resolve()))
    assert.equal(server.counters()['refused_senders'], 2)
    assert.equal(allowed.lines().length, 1)
  })
})

test('senderList takes addresses and networks of both families, keeps the families apart, and names an entry that is neither', () => {
  const list = senderList(['192.0.2.0/24', '2001:db8::/32', '198.51.100.7', '::ffff:203.0.113.0/120', 'fe80::/10'])
  assert.equal(list.allows('192.0.2.200'), true)
  assert.equal(list.allows('::ffff:192.0.2.200'), true)
  assert.equal(list.allows('198.51.100.8'), false)
  assert.equal(list.allows('2001:db8:1::9'), true)
  assert.equal(list.allows('203.0.113.77'), true)
  assert.equal(list.allows('fe80::1%eth0'), true)
  assert.equal(list.allows('not an address'), false)
  // node's BlockList alone would let every IPv4 sender through an IPv6 network covering ::ffff:0:0/96.
  assert.equal(senderList(['::/64']).allows('127.0.0.1'), false)
  assert.equal(senderList(['::/64']).allows('::1'), true)
  for (const bad of ['192.0.2.0/33', 'mail.example.com', '2001:db8::/129', '192.0.2.0/', '']) {
    assert.throws(() => senderList([bad]), new RegExp(`'${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' is not an address or network`), bad)
  }
})

test('a batch holds at most max_batch_bytes of lines (one line at the least), so it stays one record the log takes', async () => {
  let open!: () => void
  const gate = new Promise<void>((resolve) => { open = resolve })
  const batches: string[][] = []
  const bounded = new SyslogServer({ tcp: { address: '127.0.0.1', port: 0 }, max_batch_bytes: 150, log: () => undefined })
  await bounded.start(async (batch) => {
    batches.push(batch.lines.map(String))
    // The first batch is held, so the next messages queue up behind it.
    if (batches.length === 1) await gate
  })
  try {
    const send = (text: string) => new Promise<void>((resolve, reject) => {
      const socket = connect(bounded.addresses().tcp!.port, '127.0.0.1', () => socket.end(text, () => resolve())).on('error', reject)
    })
    await send('<38>Aug 14 11:58:58 bastion sshd[1]: first\n')
    await waitFor(() => batches.length === 1, 'the first batch')
    const messages = Array.from({ length: 6 }, (_, i) => `<38>Aug 14 11:58:59 bastion sshd[2]: message ${i} ${'x'.repeat(20)}`)
    await send(`${messages.join('\n')}\n${'<38>Aug 14 11:59:00 bastion sshd[3]: '}${'y'.repeat(200)}\n`)
    await waitFor(() => bounded.counters()['messages'] === 8, 'eight messages')
    open()
    await waitFor(() => batches.flat().length === 8, 'every line handed on')
    for (const batch of batches) {
      const bytes = batch.reduce((n, line) => n + Buffer.byteLength(line) + 1, 0)
      assert.ok(batch.length === 1 || bytes <= 150, `${batch.length} lines, ${bytes} bytes`)
    }
    assert.ok(batches.length >= 5, `${batches.length} batches`)
  } finally {
    open()
    await bounded.stop()
  }
})
