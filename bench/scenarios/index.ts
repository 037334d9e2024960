import { fanout } from './fanout.js'
import { memory } from './memory.js'
import { presence } from './presence.js'
import { replay } from './replay.js'
import { rooms } from './rooms.js'
import { storm } from './storm.js'
import type { Scenario } from './types.js'

/** In the order they run (presence only when --only names it: see Scenario.optIn). */
export const SCENARIOS: readonly Scenario[] = [fanout, rooms, replay, storm, memory, presence]
