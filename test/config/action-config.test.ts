import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadAction } from '../../src/config/action-config.js'
import { ConfigError } from '../../src/config/errors.js'
import { tempTree } from './temp-tree.js'

const FW = `[Definition]
actionstart = <fw> -N f2b-<name>
              <fw> -I <chain> -p <protocol> --dport <port> -j f2b-<name>
actionban = <fw> -I f2b-<name> -s <ip> -j <blocktype>
actionunban = <fw> -D f2b-<name> -s <ip> -j <blocktype>
[Init]
chain = INPUT
name = default
port = ssh
protocol = tcp
blocktype = REJECT
fw = iptables
[Init?family=inet6]
blocktype = REJECT6
`
const MULTI = `[INCLUDES]
before = fw.conf
[Definition]
actionban = %(known/actionban)s # <bantime> <matches>
`

test('substitutes [Init] options into the commands and keeps run-time tags', () => {
  const dir = tempTree({ 'action.d/fw.conf': FW })
  const action = loadAction(join(dir, 'action.d'), 'fw')
  assert.equal(action.name, 'fw')
  assert.equal(action.file, join(dir, 'action.d/fw.conf'))
  assert.equal(action.options['actionstart'], 'iptables -N f2b-default\niptables -I INPUT -p tcp --dport ssh -j f2b-default')
  assert.equal(action.options['actionban'], 'iptables -I f2b-default -s <ip> -j <blocktype>')
})

test('an option with a family variant is left for the run time, both variants kept', () => {
  const dir = tempTree({ 'action.d/fw.conf': FW })
  const { options } = loadAction(join(dir, 'action.d'), 'fw')
  assert.equal(options['blocktype'], 'REJECT')
  assert.equal(options['blocktype?family=inet6'], 'REJECT6')
})

test('arguments override [Init] options', () => {
  const dir = tempTree({ 'action.d/fw.conf': FW })
  const { options } = loadAction(join(dir, 'action.d'), 'fw', { name: 'SSH', port: 'ssh,sftp' })
  assert.equal(options['actionstart'], 'iptables -N f2b-SSH\niptables -I INPUT -p tcp --dport ssh,sftp -j f2b-SSH')
})

test('%(known/...)s extends the included action and <bantime>, <matches> stay', () => {
  const dir = tempTree({ 'action.d/fw.conf': FW, 'action.d/fw-multi.conf': MULTI })
  assert.equal(loadAction(join(dir, 'action.d'), 'fw-multi').options['actionban'], 'iptables -I f2b-default -s <ip> -j <blocktype> # <bantime> <matches>')
})

test('in a jail the action is named after the jail unless name is given', () => {
  const dir = tempTree({ 'action.d/fw.conf': FW })
  const jail = { jailName: 'sshd', jailOptions: new Map<string, string>() }
  const plain = loadAction(join(dir, 'action.d'), 'fw', {}, jail)
  assert.equal(plain.options['name'], 'sshd')
  assert.equal(plain.options['actname'], 'fw')
  assert.match(plain.options['actionban'] ?? '', /f2b-sshd/)
  assert.equal(loadAction(join(dir, 'action.d'), 'fw', { name: 'sshd-ddos' }, jail).options['actname'], 'fw-ddos')
  assert.equal(loadAction(join(dir, 'action.d'), 'fw', { name: 'other' }, jail).options['actname'], 'fw-other')
})

test('a <known/chain> argument resolves to the action\'s own [Init] chain', () => {
  const dir = tempTree({ 'action.d/fw.conf': FW })
  const { options } = loadAction(join(dir, 'action.d'), 'fw', { chain: '<known/chain>' })
  assert.match(options['actionstart'] ?? '', /-I INPUT /)
})

test('python actions are refused', () => {
  const dir = tempTree({})
  assert.throws(() => loadAction(join(dir, 'action.d'), 'smtp.py'), ConfigError)
})
