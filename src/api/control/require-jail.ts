import type { ControlPort } from './control-port.js'
import { unknownJail } from './control-error.js'

/** Answers 404 before a command reaches a jail that is not running. */
export async function requireJail(port: ControlPort, jail: string): Promise<void> {
  if (!(await port.jails()).includes(jail)) throw unknownJail(jail)
}
