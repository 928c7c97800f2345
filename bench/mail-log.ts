/**
 * A deterministic, realistic mixed mail/ssh syslog (postfix, dovecot, sshd, cron, kernel) for the
 * benchmarks: ordinary traffic with a chosen share of brute-force failures and rejections mixed in,
 * the shape of a busy MX under attack.
 */
import { seededRandom } from './seeded-random.js'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const USERS = ['root', 'admin', 'test', 'oracle', 'postgres', 'info', 'sales', 'alice', 'bob', 'ubuntu', 'git', 'user1']

export interface MailLogOptions {
  seed?: number
  /** Epoch ms of the first line. */
  start?: number
  /** Share of lines that are authentication failures or rejections (0..1); the rest is ordinary traffic. */
  failureShare?: number
}

export function generateMailLog(lines: number, opts: MailLogOptions = {}): string {
  const r = seededRandom(opts.seed ?? 42)
  const failureShare = opts.failureShare ?? 0.2
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
  const ip = (): string => `${pick([198, 203, 192, 45, 185, 91])}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`
  const attackers = Array.from({ length: 300 }, ip)
  const pid = (): number => 1000 + Math.floor(r() * 60000)
  const port = (): number => 1024 + Math.floor(r() * 60000)
  const ordinary = (): string => {
    const p = pid()
    return pick([
      `postfix/smtpd[${p}]: connect from unknown[${ip()}]`,
      `postfix/smtpd[${p}]: disconnect from unknown[${ip()}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5`,
      `postfix/smtpd[${p}]: 4F2A1C0E3B: client=mail-${Math.floor(r() * 99)}.example.net[${ip()}]`,
      `postfix/cleanup[${p}]: 4F2A1C0E3B: message-id=<${Math.floor(r() * 1e9)}@example.net>`,
      `postfix/qmgr[${p}]: 4F2A1C0E3B: from=<news@example.org>, size=${Math.floor(r() * 90000)}, nrcpt=1 (queue active)`,
      `postfix/smtp[${p}]: 4F2A1C0E3B: to=<${pick(USERS)}@example.com>, relay=mx.example.com[192.0.2.25]:25, delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 OK)`,
      `dovecot: imap-login: Login: user=<${pick(USERS)}@example.com>, method=PLAIN, rip=${ip()}, lip=192.0.2.10, mpid=${pid()}, TLS, session=<AbCdEf${Math.floor(r() * 1e6)}>`,
      `dovecot: imap(${pick(USERS)}@example.com)<${pid()}><AbCdEf>: Disconnected: Logged out in=120 out=2048`,
      `sshd[${p}]: Accepted publickey for deploy from ${ip()} port ${port()} ssh2: RSA SHA256:abcdefghijklmnop`,
      `sshd[${p}]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)`,
      `sshd[${p}]: Received disconnect from ${ip()} port ${port()}:11: disconnected by user`,
      `CRON[${pid()}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)`,
      `kernel: [${(r() * 1e6).toFixed(6)}] [UFW BLOCK] IN=eth0 OUT= MAC=00:00 SRC=${ip()} DST=192.0.2.10 LEN=40 PROTO=TCP SPT=443 DPT=23`,
      `systemd[1]: Started Session ${Math.floor(r() * 9999)} of user deploy.`,
    ])
  }
  const failure = (): string => {
    const p = pid()
    const bad = pick(attackers)
    return pick([
      `postfix/smtpd[${p}]: NOQUEUE: reject: RCPT from unknown[${bad}]: 554 5.7.1 <${pick(USERS)}@example.com>: Relay access denied; from=<spam@example.biz> to=<${pick(USERS)}@example.com> proto=ESMTP helo=<WIN-${Math.floor(r() * 9999)}>`,
      `postfix/smtpd[${p}]: warning: unknown[${bad}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`,
      `dovecot: auth: passwd-file(${pick(USERS)},${bad},<AbCdEf>): unknown user`,
      `dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<${pick(USERS)}>, method=PLAIN, rip=${bad}, lip=192.0.2.10, TLS, session=<AbCdEf>`,
      `sshd[${p}]: Failed password for ${pick(USERS)} from ${bad} port ${port()} ssh2`,
      `sshd[${p}]: Failed password for invalid user ${pick(USERS)} from ${bad} port ${port()} ssh2`,
      `sshd[${p}]: Invalid user ${pick(USERS)} from ${bad} port ${port()}`,
      `sshd[${p}]: Connection closed by ${bad} port ${port()} [preauth]`,
    ])
  }
  const out: string[] = []
  let t = opts.start ?? Date.UTC(2026, 10, 1, 0, 0, 0)
  for (let i = 0; i < lines; i++) {
    t += Math.floor(r() * 40)
    const d = new Date(t)
    const stamp = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)}`
    out.push(`${stamp} mx1 ${r() < failureShare ? failure() : ordinary()}`)
  }
  return out.join('\n') + '\n'
}
