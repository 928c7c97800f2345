import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { parseAddress } from '../../../schemas/events/address.js'
import {
  BAN_OPERATIONS, banCommand, banFacts, execAction, ExecInputError, STATIC_OPERATIONS, staticCommand,
  type BanFacts, type ExecActionSource, type FamilyKey, type Operation,
} from '../../../sinks/actuators/exec-commands.js'
import type { JailConfig } from '../../../src/config/jail-config.js'
import { hasActionFile, loadExecAction } from '../../../src/roles/exec-action.js'
import { ban } from './decision-fixtures.js'

const FAIL2BAN = '/work/shared/fail2ban'
const HOST = { fq: 'fw1.example.org', short: 'fw1' }
const JAIL: JailConfig = { name: 'sshd', enabled: true, options: { bantime: '600' }, actions: [], logpath: [] }

function facts(ip: string, more: Partial<BanFacts> = {}): BanFacts {
  return { ip: parseAddress(ip)!, failures: 5, time_secs: 1_700_000_000, bantime_secs: 600, bancount: 2, matches: ['line one', 'line two'], restored: false, ...more }
}

/** An action whose every command, for every family, is as given here (none when not given). */
function source(commands: Partial<Record<Operation, string>>, written: (tag: string) => boolean = () => true): ExecActionSource {
  const all = {} as Record<Operation, Record<FamilyKey, string>>
  for (const op of [...STATIC_OPERATIONS, ...BAN_OPERATIONS]) {
    const text = commands[op] ?? ''
    all[op] = { '': text, inet4: text, inet6: text }
  }
  return {
    jail: 'sshd', file: 'test.conf', actname: 'test', commands: all, timeout_secs: 60, norestored: false,
    start_on_demand: false, repair_on_unban: false, families: [''], written,
  }
}

function shell(command: string): { stdout: string; status: number | null } {
  const r = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8' })
  return { stdout: r.stdout, status: r.status }
}

// The action.d files that need an argument the jail must give (fail2ban leaves the tag in the
// command); each renders once given it.
const NEEDS_ARGUMENT: Record<string, { tag: string; args: Record<string, string> }> = {
  'abuseipdb': { tag: 'abuseipdb_category', args: { abuseipdb_category: '18,22', abuseipdb_apikey: 'k' } },
  'blocklist_de': { tag: 'email', args: { email: 'abuse@example.org', apikey: 'k', service: 'ssh', agent: 'Fail2Ban/1.1.0' } },
  'cloudflare-token': { tag: 'cfzone', args: { cfzone: 'z', cftoken: 't' } },
  'pf': { tag: 'port', args: { port: 'ssh' } },
  // Upstream's own gap: <debug> is used but never defined.
  'xarf-login-attack': { tag: 'debug', args: { debug: '0' } },
}
// Files only meant to be included by others.
const INCLUDE_ONLY = new Set(['firewallcmd-common', 'helpers-common', 'mail-whois-common'])

describe('every fail2ban action.d file', () => {
  const names = readdirSync(join(FAIL2BAN, 'action.d')).filter((f) => f.endsWith('.conf')).map((f) => f.slice(0, -'.conf'.length))

  test('the Python actions are left to other kinds', () => {
    assert.equal(hasActionFile(FAIL2BAN, 'smtp.py'), false)
    assert.equal(hasActionFile(FAIL2BAN, 'iptables'), true)
    assert.equal(hasActionFile(FAIL2BAN, 'no-such-action'), false)
  })

  for (const name of names) {
    test(`${name} renders actionban and actionunban for IPv4 and IPv6, or names what it lacks`, () => {
      if (INCLUDE_ONLY.has(name)) {
        assert.throws(() => loadExecAction(FAIL2BAN, JAIL, { name, args: {} }), (e: Error) => e instanceof ExecInputError && e.message.includes(`${name}.conf`) && e.message.includes('no [Definition]'))
        return
      }
      const needs = NEEDS_ARGUMENT[name]
      if (needs) {
        assert.throws(() => loadExecAction(FAIL2BAN, JAIL, { name, args: {} }),
          (e: Error) => e instanceof ExecInputError && e.message.includes(`${name}.conf`) && e.message.includes(`<${needs.tag}>`))
      }
      const action = loadExecAction(FAIL2BAN, JAIL, { name, args: needs?.args ?? {} })
      for (const ip of ['192.0.2.7', '2001:db8::7']) {
        for (const op of ['actionban', 'actionunban'] as const) {
          const command = banCommand(action, op, facts(ip, { matches: [`it's "a" $(line)`], fid: '`x`' }), HOST)
          if (command.includes('<ip>')) assert.fail(`${name} ${op} kept <ip>: ${command}`)
          // sendmail-common has no actionban (other files build on it); nginx-block-map bans the failure id.
          if (op === 'actionban' && command !== '' && name !== 'nginx-block-map') assert.ok(command.includes(ip), `${name} ${op} for ${ip}: ${command}`)
          assert.equal(spawnSync('/bin/sh', ['-n', '-c', command]).status, 0, `${name} ${op} is not valid sh: ${command}`)
        }
      }
    })
  }
})

describe('rendering a ban', () => {
  test('iptables picks ip6tables and the IPv6 reject type through its ?family=inet6 options', () => {
    const action = loadExecAction(FAIL2BAN, JAIL, { name: 'iptables', args: { port: 'ssh', protocol: 'tcp' } })
    assert.equal(banCommand(action, 'actionban', facts('192.0.2.7'), HOST),
      'iptables -w -I f2b-sshd 1 -s 192.0.2.7 -j REJECT --reject-with icmp-port-unreachable')
    assert.equal(banCommand(action, 'actionban', facts('2001:db8::7'), HOST),
      'ip6tables -w -I f2b-sshd 1 -s 2001:db8::7 -j REJECT --reject-with icmp6-port-unreachable')
  })

  test('on-demand actions start each family with its own command', () => {
    const action = loadExecAction(FAIL2BAN, JAIL, { name: 'iptables', args: { port: 'ssh', protocol: 'tcp' } })
    assert.equal(action.start_on_demand, true)
    assert.match(staticCommand(action, 'actionstart', 'inet4', HOST), /\{ iptables -w -N f2b-sshd /)
    assert.match(staticCommand(action, 'actionstart', 'inet6', HOST), /\{ ip6tables -w -N f2b-sshd /)
  })

  test('addresses are written in their canonical form, networks with their prefix', () => {
    const action = execAction(source({ actionban: 'ban <ip> <family> <ip-rev>' }))
    assert.equal(banCommand(action, 'actionban', facts('2001:DB8:0:0::1'), HOST),
      'ban 2001:db8::1 inet6 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.')
    assert.equal(banCommand(action, 'actionban', facts('192.0.2.0/24'), HOST), 'ban 192.0.2.0/24 inet4 0.2.0.192.')
  })

  test('numbers are written as numbers', () => {
    const action = execAction(source({ actionban: '<failures> <ipfailures> <time> <bantime> <bancount> <restored>' }))
    assert.equal(banCommand(action, 'actionban', facts('192.0.2.7', { bantime_secs: -1, restored: true }), HOST), '5 5 1700000000 -1 2 1')
  })

  test('a ban decision gives the address, counts, time and lines', () => {
    const b = { ...ban('sshd', '192.0.2.7', 600), occurred_at: '2023-11-14T22:13:20.000Z', matches: ['a', 'b'], fid: 'root' }
    const f = banFacts(b, false)
    assert.equal(f.time_secs, 1_700_000_000)
    assert.equal(f.fid, 'root')
    const action = execAction(source({ actionban: 'printf %s <fid> <matches>' }))
    assert.equal(shell(banCommand(action, 'actionban', f, HOST)).stdout, 'roota\nb')
  })

  test("a ban's user and failure id fill <F-USER> and <F-ID>, quoted whatever the log wrote", () => {
    const user = `x'; touch /tmp/pwned; echo '$(id)`
    const b = { ...ban('sshd', '192.0.2.7', 600), user, fid: 'conn-1' }
    const action = execAction(source({ actionban: 'printf "%s|%s" <F-USER> <F-ID>' }))
    assert.equal(shell(banCommand(action, 'actionban', banFacts(b, false), HOST)).stdout, `${user}|conn-1`)
  })

  test('a capture the ban does not carry is empty, as in fail2ban', () => {
    const action = execAction(source({ actionban: 'echo "[<F-USER>]"' }))
    assert.equal(shell(banCommand(action, 'actionban', facts('192.0.2.7'), HOST)).stdout, '[]\n')
    assert.equal(shell(banCommand(action, 'actionban', facts('192.0.2.7', { captures: { user: 'alice' } }), HOST)).stdout, '[alice]\n')
  })

  test('the host names fill <fq-hostname> and <sh-hostname> in any command', () => {
    const action = execAction(source({ actionstart: 'echo "on <fq-hostname>" <sh-hostname>' }))
    assert.equal(shell(staticCommand(action, 'actionstart', '', HOST)).stdout, 'on fw1.example.org fw1\n')
  })
})

describe('hostile input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bs-exec-hostile-'))
  const marker = join(dir, 'pwned')
  after(() => rmSync(dir, { recursive: true, force: true }))
  const hostile = [
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `x; touch ${marker}`,
    `a\ntouch ${marker}`,
    `it's "quoted" \\ $HOME ' ; touch ${marker}; '`,
    `"; touch ${marker}; echo "`,
    `'; touch ${marker}; echo '`,
    `* ? [a] ~ # & | > ${marker}`,
  ]
  // The same tag where actions put it: bare, in double quotes, in single quotes, in $( "..." ), in backticks
  // (also within double quotes, quoting afresh inside), after a comment whose apostrophe a quoting analysis
  // could misread, in a here-document (whose quotes are text), in a case inside $( ).
  const placements = {
    bare: 'printf %s <F-USER>',
    double: 'printf %s "user=<F-USER>."',
    single: "printf %s 'user=<F-USER>.'",
    substitution: 'v=$(printf %s "<F-USER>"); printf %s "$v"',
    backticks: 'v=`printf %s <F-USER>`; printf %s "$v"',
    'double-quoted in backticks in double quotes': 'v="`printf %s "user=<F-USER>."`"; printf %s "$v"',
    'after a comment': "true # don't\nprintf %s <F-USER>",
    'in a here-document': 'cat <<EOF\nuser=<F-USER>.\nEOF',
    'after a here-document holding an apostrophe': "cat <<-EOF >/dev/null\n\tdon't\n\tEOF\nprintf %s \"user=<F-USER>.\"",
    'in a case pattern\'s branch inside $( )': 'v="$(case a in a) printf %s "<F-USER>";; esac)"; printf %s "$v"',
  }
  const expected: Record<keyof typeof placements, (v: string) => string> = {
    'bare': (v) => v,
    'double': (v) => `user=${v}.`,
    // fail2ban's placeholder: every hostile value holds a character it escapes.
    'single': () => 'user=$f2bV_F_USER.',
    'substitution': (v) => v,
    'backticks': (v) => v,
    'double-quoted in backticks in double quotes': (v) => `user=${v}.`,
    'after a comment': (v) => v,
    'in a here-document': (v) => `user=${v}.\n`,
    'after a here-document holding an apostrophe': (v) => `user=${v}.`,
    'in a case pattern\'s branch inside $( )': (v) => v,
  }

  for (const [where, command] of Object.entries(placements)) {
    test(`a hostile user name ${where} is printed, never run`, () => {
      const action = execAction(source({ actionban: command }))
      for (const value of hostile) {
        const out = shell(banCommand(action, 'actionban', facts('192.0.2.7', { captures: { user: value } }), HOST))
        assert.equal(out.status, 0)
        // $(...) drops trailing newlines; the value has none at its end.
        assert.equal(out.stdout, expected[where as keyof typeof placements](value))
        assert.equal(existsSync(marker), false, `${JSON.stringify(value)} ${where} ran a command`)
      }
    })
  }

  test('inside single quotes, where another program reads the text, a value stands only when it holds no character fail2ban escapes', () => {
    const action = execAction(source({ actionban: "sh -c 'printf %s <F-USER>'" }))
    const run = (user: string) => shell(banCommand(action, 'actionban', facts('192.0.2.7', { captures: { user } }), HOST)).stdout
    assert.equal(run('alice.smith@example.org'), 'alice.smith@example.org')
    assert.equal(run(`x; touch ${marker}`), '', 'the inner shell expands fail2ban\'s placeholder $f2bV_F_USER to nothing')
    assert.equal(existsSync(marker), false)
  })

  test('hostile matches reach sendmail-whois-matches as text', () => {
    const action = loadExecAction(FAIL2BAN, JAIL, { name: 'sendmail-whois-matches', args: { mailcmd: 'cat' } })
    const lines = hostile
    const command = banCommand(action, 'actionban', facts('192.0.2.7', { matches: lines }), HOST)
    const out = shell(command.replace(/whois 192\.0\.2\.7 \|\| echo "missing whois program"/, 'true'))
    assert.equal(existsSync(marker), false)
    assert.ok(out.stdout.includes(`touch ${marker}`))
  })

  test('a hostile failure id and host name are quoted too', () => {
    const action = execAction(source({ actionban: 'printf %s <fid> "<ip-host>"' }))
    const out = shell(banCommand(action, 'actionban', facts('192.0.2.7', { fid: `$(touch ${marker})`, ip_host: `\`touch ${marker}\`` }), HOST))
    assert.equal(out.stdout, `$(touch ${marker})\`touch ${marker}\``)
    assert.equal(existsSync(marker), false)
  })
})

describe('refused at load', () => {
  test('a value in a here-document that expands nothing, where no reference can stand', () => {
    assert.throws(() => execAction(source({ actionban: "cat <<'EOF'\nuser=<F-USER>\nEOF" })),
      (e: Error) => e instanceof ExecInputError && /test\.conf: actionban has <F-USER> in a here-document that expands nothing/.test(e.message))
    assert.equal(shell(banCommand(execAction(source({ actionban: "cat <<'EOF'\n<ip>\nEOF" })), 'actionban', facts('192.0.2.7'), HOST)).stdout, '192.0.2.7\n')
  })

  test('a jail or action name with shell syntax, which fail2ban writes into commands as is', () => {
    assert.throws(() => loadExecAction(FAIL2BAN, { ...JAIL, name: 'sshd;reboot' }, { name: 'iptables', args: { port: 'ssh' } }),
      (e: Error) => e instanceof ExecInputError && e.message.includes('"sshd;reboot" has characters a shell would read'))
    assert.throws(() => loadExecAction(FAIL2BAN, JAIL, { name: 'iptables', args: { port: 'ssh', name: '$(reboot)' } }), /"\$\(reboot\)" has characters/)
  })

  test('a tag written in the action that nothing fills', () => {
    assert.throws(() => execAction(source({ actionban: 'block <ip> port <port>' })),
      (e: Error) => e instanceof ExecInputError && /test\.conf: actionban has <port>/.test(e.message))
  })

  test('a run-time tag in a command run without a ban', () => {
    assert.throws(() => execAction(source({ actionstart: 'echo <ip>' })), /actionstart has <ip>/)
  })

  test('but not a tag that only appears once others are filled (a pf table)', () => {
    const action = execAction(source({ actionban: 'pfctl -t <f2b-sshd> -T add <ip>' }, (tag) => tag !== 'f2b-sshd'))
    assert.equal(banCommand(action, 'actionban', facts('192.0.2.7'), HOST), 'pfctl -t <f2b-sshd> -T add 192.0.2.7')
  })

  test('but numbers inside backticks are fine', () => {
    const action = execAction(source({ actionban: 'd=`date --date=@<time> +%s`; echo $d' }))
    assert.equal(shell(banCommand(action, 'actionban', facts('192.0.2.7'), HOST)).stdout, '1700000000\n')
  })
})
