import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  parseBatchErrors, parseRouteListing, routeBatch, routeDestination, RouteInputError, routeJail, routeListArgv, routeProto,
  routeReconcilePlan,
} from '../../../sinks/actuators/route-commands.js'

describe('route commands', () => {
  test('a jail blocks with unreachable routes unless blocktype names blackhole or prohibit', () => {
    assert.deepEqual(routeJail('sshd', {}), { jail: 'sshd', blocktype: 'unreachable' })
    assert.deepEqual(routeJail('sshd', { blocktype: 'Blackhole' }), { jail: 'sshd', blocktype: 'blackhole' })
    assert.deepEqual(routeJail('sshd', { blocktype: 'prohibit' }), { jail: 'sshd', blocktype: 'prohibit' })
  })

  test('a blocktype that is not a blocking route type, or a hostile jail name, is refused', () => {
    assert.throws(() => routeJail('sshd', { blocktype: 'unicast' }), RouteInputError)
    assert.throws(() => routeJail('sshd', { blocktype: 'unreachable; reboot' }), RouteInputError)
    assert.throws(() => routeJail('x$(id)', {}), RouteInputError)
  })

  test('destinations are re-serialised addresses and networks; a /0 or a non-address is refused', () => {
    assert.deepEqual(routeDestination('192.0.2.7'), { family: 4, dst: '192.0.2.7' })
    assert.deepEqual(routeDestination('192.0.2.77/24'), { family: 4, dst: '192.0.2.0/24' })
    assert.deepEqual(routeDestination('2001:DB8:0:0::1'), { family: 6, dst: '2001:db8::1' })
    assert.deepEqual(routeDestination('::ffff:192.0.2.9'), { family: 4, dst: '192.0.2.9' })
    assert.throws(() => routeDestination('0.0.0.0/0'), RouteInputError)
    assert.throws(() => routeDestination('::/0'), RouteInputError)
    assert.throws(() => routeDestination('192.0.2.1 dev lo'), RouteInputError)
  })

  test('proto numbers of the kernel (0-4) and past 255 are refused', () => {
    assert.equal(routeProto(201), 201)
    for (const bad of [0, 2, 4, 256, 1.5]) assert.throws(() => routeProto(bad), RouteInputError)
  })

  test('a batch deletes first, then adds, every line tagged with the proto number', () => {
    const script = routeBatch({ remove: ['192.0.2.9'], add: [{ dst: '192.0.2.7', type: 'unreachable' }, { dst: '2001:db8::/64', type: 'blackhole' }] }, 201)
    assert.equal(script, 'route del 192.0.2.9 proto 201\nroute add unreachable 192.0.2.7 proto 201\nroute add blackhole 2001:db8::/64 proto 201\n')
  })

  test('a batch refuses a destination that is not an address', () => {
    assert.throws(() => routeBatch({ remove: [], add: [{ dst: '192.0.2.7\nroute flush table main', type: 'unreachable' }] }, 201), RouteInputError)
  })

  test('the listing asks ip for JSON of one family, main table, our proto only', () => {
    assert.deepEqual(routeListArgv(4, 201), ['ip', '-j', '-4', 'route', 'show', 'table', 'main', 'proto', '201'])
    assert.deepEqual(routeListArgv(6, 201), ['ip', '-j', '-6', 'route', 'show', 'table', 'main', 'proto', '201'])
  })

  test('a listing gives destination and type, canonical, with unicast for a route without a type', () => {
    const json = '[{"type":"prohibit","dst":"10.0.0.0/8","flags":[]},{"type":"unreachable","dst":"192.0.2.5","flags":[]},' +
      '{"type":"blackhole","dst":"2001:0db8::/64","dev":"lo","metric":1024,"flags":[],"pref":"medium"},{"dst":"198.51.100.1","dev":"lo","flags":[]},' +
      '{"dst":"default","type":"unreachable"}]'
    assert.deepEqual(parseRouteListing(json), new Map([
      ['10.0.0.0/8', 'prohibit'], ['192.0.2.5', 'unreachable'], ['2001:db8::/64', 'blackhole'], ['198.51.100.1', 'unicast'],
    ]))
    assert.deepEqual(parseRouteListing(''), new Map())
  })

  test('batch errors belong to the line ip names after them', () => {
    const stderr = 'RTNETLINK answers: File exists\nCommand failed -:2\nRTNETLINK answers: No such process\nCommand failed -:4\n'
    assert.deepEqual(parseBatchErrors(stderr), new Map([[2, 'RTNETLINK answers: File exists'], [4, 'RTNETLINK answers: No such process']]))
  })

  test('reconciling removes routes no ban asks for, adds missing ones and replaces one of the wrong type', () => {
    const current = new Map([['192.0.2.1', 'unreachable'], ['192.0.2.2', 'unreachable'], ['192.0.2.3', 'blackhole']])
    const desired = new Map([['192.0.2.1', 'unreachable'], ['192.0.2.3', 'unreachable'], ['2001:db8::9', 'prohibit']] as const)
    assert.deepEqual(routeReconcilePlan(current, desired), {
      remove: ['192.0.2.2', '192.0.2.3'],
      add: [{ dst: '192.0.2.3', type: 'unreachable' }, { dst: '2001:db8::9', type: 'prohibit' }],
    })
  })
})
