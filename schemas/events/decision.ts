import { Type, type Static } from '@sinclair/typebox'
import { BanIssued } from './ban-issued.js'
import { BanLifted } from './ban-lifted.js'

/** A value of the `decisions` topic: a ban or the end of one, told apart by `type`. */
export const Decision = Type.Union([BanIssued, BanLifted], { $id: 'banstream.Decision.v1', description: 'A ban or the end of a ban.' })
export type Decision = Static<typeof Decision>
