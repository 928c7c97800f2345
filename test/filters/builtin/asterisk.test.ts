import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadFilter } from '../../../src/config/filter-config.js'
import { compileFilter } from '../../../src/filters/compiled-filter.js'
import { FilterMatcher, type LineResult } from '../../../src/filters/filter-matcher.js'

const NOW = 1124013600
const BIG = 100 * 1024
const PRE = '[2016-05-06 07:08:09] '

function asterisk(opts: Record<string, string> = {}): (line: string, time?: number) => LineResult {
  const def = loadFilter(join(process.cwd(), 'config/filter.d'), 'asterisk', opts)
  const m = new FilterMatcher(compileFilter(def, { useDns: 'raw', timezone: 'UTC', now: () => NOW }))
  return (line, time) => m.processLine(Buffer.from(line), time)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

const security = (fields: string): string =>
  `${PRE}SECURITY[6988] res_security_log.c: SecurityEvent="InvalidAccountID",EventTV="2016-05-06T07:08:09.000+0200",Severity="Error",Service="PJSIP",EventVersion="1",${fields}`

test('a second RemoteAddress smuggled in the SessionID cannot move the banned host', () => {
  const r = asterisk()(security('AccountID="1",SessionID="",LocalAddress="IPV4/UDP/10.0.0.1/5060",RemoteAddress="IPV4/UDP/198.51.100.66/1111"",LocalAddress="IPV4/UDP/10.0.0.1/5060",RemoteAddress="IPV4/UDP/192.0.2.21/5061"'))
  assert.equal(hostOf(r), '192.0.2.21')
})

test('a SessionID ending in a well-formed RemoteAddress field cannot move the banned host', () => {
  const r = asterisk()(security('AccountID="1",SessionID="x",RemoteAddress="IPV4/UDP/198.51.100.66/1",LocalAddress="IPV4/UDP/10.0.0.1/5060",RemoteAddress="IPV4/UDP/192.0.2.22/5061"'))
  assert.equal(hostOf(r), '192.0.2.22')
})

test('a second RemoteAddress smuggled in a value after the real one drops the line', () => {
  const r = asterisk()(`${PRE}SECURITY[4583] res_security_log.c: SecurityEvent="ChallengeResponseFailed",EventTV="1",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="100",SessionID="abc",LocalAddress="IPV4/UDP/10.0.0.1/5060",RemoteAddress="IPV4/UDP/192.0.2.23/5060",Challenge="1/6d",Response="x\\",LocalAddress="IPV4/UDP/10.0.0.1/5060",RemoteAddress="IPV4/UDP/198.51.100.66/5060",ExpectedResponse=""`)
  assert.deepEqual(r.failures, [])
})

test('a security event with an IPv6 remote address names it', () => {
  const r = asterisk()(security('AccountID="1",SessionID="s",LocalAddress="IPV6/UDP/2001:db8::1/5060",RemoteAddress="IPV6/UDP/2001:db8::5/5060"'))
  assert.equal(hostOf(r), '2001:db8::5')
})

test('a From header imitating the registration failure cannot move the banned host', () => {
  const r = asterisk()(`${PRE}NOTICE[1638] chan_sip.c: Registration from '<sip:x' failed for '198.51.100.66' - Wrong password'>' failed for '192.0.2.24:5060' - Wrong password`)
  assert.equal(hostOf(r), '192.0.2.24')
})

test('a caller id or extension imitating "(<ip>:<port>) to extension" is never banned', () => {
  const m = asterisk()
  const call = (cid: string, ext: string) => m(`${PRE}NOTICE[3477][C-1] chan_sip.c: Call from '${cid}' (192.0.2.25:5060) to extension '${ext}' rejected because extension not found in context 'default'.`)
  assert.deepEqual(call("a' (198.51.100.66:5060) to extension 'b", '100').failures, [])
  assert.deepEqual(call('a', "b' (198.51.100.66:5060) to extension '100").failures, [])
  assert.equal(hostOf(call("O'Brien (home)", "+44'1")), '192.0.2.25')
})

test('a PJSIP From header or Call-ID imitating "failed for" cannot move the banned host', () => {
  const m = asterisk()
  const req = (from: string, callid: string) => m(`${PRE}NOTICE[19388] res_pjsip/pjsip_distributor.c: Request 'INVITE' from '${from}' failed for '192.0.2.27:5060' (callid: ${callid}) - No matching endpoint found`)
  assert.equal(hostOf(req(`"x' failed for '198.51.100.66:1'" <sip:1@h>`, '1@h')), '192.0.2.27')
  assert.deepEqual(req("a' failed for '198.51.100.66:1' (callid: z", '1@h').failures, [])
  assert.deepEqual(req('<sip:a@b>', "z' failed for '198.51.100.66:1' (callid: y").failures, [])
})

test('an AMI user name holding ": <ip> failed to authenticate" cannot move the banned host', () => {
  const r = asterisk()(`${PRE}NOTICE[22382] manager.c: 192.0.2.28 failed to authenticate as 'x: 198.51.100.66 failed to authenticate as 'y''`)
  assert.equal(hostOf(r), '192.0.2.28')
})

test('a dialplan Log() message, with extension, priority and "@ <context>" in the prefix, names its host', () => {
  const r = asterisk()(`Mar  1 15:35:53 pbx asterisk[2350]: WARNING[1195][C-00000b43]: Ext. s:6 in @ from-sip-external: "Rejecting unknown SIP connection from 192.0.2.31"`)
  assert.equal(hostOf(r), '192.0.2.31')
})

test('a context name in the prefix holds no ": ", so message text cannot pose as one', () => {
  const r = asterisk()(`${PRE}NOTICE[22382] manager.c:12 in @ ctx: 192.0.2.32 failed to authenticate as '@ x: 198.51.100.66 failed to authenticate as 'y''`)
  assert.equal(hostOf(r), '192.0.2.32')
})

test('the journal form keeps Asterisk\'s own date after the syslog prefix', () => {
  const r = asterisk({ logtype: 'journal' })(`server asterisk[123]: [2016-05-06 07:08:09] NOTICE[1638] chan_sip.c: Registration from '<sip:1@h>' failed for '192.0.2.30:5060' - Wrong password`, NOW)
  assert.equal(hostOf(r), '192.0.2.30')
})

test('a 100 KiB field and backtracking shapes give the right answer', () => {
  const m = asterisk()
  assert.equal(hostOf(m(`${PRE}NOTICE[1] chan_sip.c: Registration from '${'a'.repeat(BIG)}' failed for '192.0.2.31' - Wrong password`)), '192.0.2.31')
  assert.equal(hostOf(m(security(`AccountID="${'",'.repeat(BIG / 2)}",SessionID="${' '.repeat(BIG)}",LocalAddress="IPV4/UDP/10.0.0.1/5060",RemoteAddress="IPV4/UDP/192.0.2.32/5061"`))), '192.0.2.32')
  assert.deepEqual(m(`${PRE}NOTICE[1] chan_sip.c: Call from '${"' ".repeat(BIG / 2)}' (${':'.repeat(BIG)}`).failures, [])
  assert.deepEqual(m(`${PRE}NOTICE[1] res_pjsip/pjsip_distributor.c: Request from '${'(callid'.repeat(BIG / 7)}' failed for '${'a'.repeat(BIG)}`).failures, [])
})
