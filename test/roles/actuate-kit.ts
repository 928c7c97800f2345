import { join } from 'node:path'
import type { Actuation } from '../../schemas/events/actuation.js'
import type { Decision } from '../../schemas/events/decision.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { ActuateWorker } from '../../src/roles/actuate-worker.js'
import type { JailActions } from '../../src/roles/jail-actions.js'
import { Fail2banLog } from '../../sinks/fail2ban-log.js'

/** An actuate worker of host `host` over an embedded log in `dir`, with ways to feed it decisions and read what it did. */
export interface Actuating {
  decide(decisions: readonly Decision[]): Promise<void>
  /** Every actuation appended so far. */
  actuations(): Promise<Actuation[]>
  stop(): Promise<void>
}

export async function startActuating(dir: string, host: string, actions: JailActions): Promise<Actuating> {
  const log = await EmbeddedLog.open({ dataDir: join(dir, 'data'), report: () => {}, fsync: 'never' })
  await log.createTopic('decisions', 1)
  await log.createTopic('actuations', 1)
  const fail2banLog = new Fail2banLog({ path: join(dir, 'banstream.log') })
  const worker = ActuateWorker.start({ log, host, fail2banLog, actions: () => actions, report: () => {} })
  return {
    decide: async (decisions) => {
      await log.append('decisions', decisions.map((d) => ({ key: Buffer.from(d.ip), value: Buffer.from(JSON.stringify(d)) })))
    },
    actuations: async () => {
      const found: Actuation[] = []
      for await (const r of readToEnd(log, 'actuations')) found.push(JSON.parse(r.value.toString()) as Actuation)
      return found
    },
    stop: async () => {
      await worker.stop()
      await fail2banLog.close()
      await log.close()
    },
  }
}
