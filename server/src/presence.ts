/**
 * Who is in a room: the awareness states of y-protocols (a name, a colour, a cursor), applied by
 * the same rules as its `Awareness`, but kept as the JSON text each client sent.
 *
 * y-protocols' `Awareness` is written for a client, which reads the states it holds. The server
 * never reads one: it keeps the latest of each client, relays it, and sends all of them to each
 * joiner. Parsed, a cursor is some ten objects, made at every move and kept until the next; the
 * text is one string. A joiner used to cost a `JSON.stringify` of every state in the room. The
 * wire format, the clocks and the 30 s timeout are y-protocols', so stock clients see no
 * difference.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { outdatedTimeout } from 'y-protocols/awareness'
import { TandemError } from './errors.js'

/** y-protocols' timeout: a client renews its state every 15 s; one silent for 30 s is gone. */
export const PRESENCE_TIMEOUT_MS = outdatedTimeout

/** One entry of an awareness update: a client's state (its JSON), or its removal. */
export interface PresenceEntry {
  readonly client: number
  readonly clock: number
  readonly json: string
  /** The state is JSON `null`: the client has left. */
  readonly removal: boolean
}

/** What a change did, by client id, as y-protocols' awareness 'update' event reports it. */
export interface PresenceChange {
  readonly added: readonly number[]
  readonly updated: readonly number[]
  readonly removed: readonly number[]
  /**
   * Those of `updated` whose state came again as the same text with a newer clock: a renewal,
   * which a client sends every 15 s to say it is still here, and which changes nothing anyone
   * sees (y-protocols reports them in 'update' but not in 'change').
   */
  readonly renewed: readonly number[]
}

const NONE: readonly number[] = Object.freeze([])

const monotonicMs = (): number => Math.floor(performance.now())

/**
 * The entries of an awareness update (`varUint(n) • n × (varUint(client) • varUint(clock) •
 * varString(json))`), checked as a whole before anything is applied: a bad state after good ones
 * would otherwise leave those applied. Throws MALFORMED_MESSAGE.
 *
 * With `held`, the presence the update is for: a state that comes as the same text as the one
 * held for its client was parsed when that came, and is not parsed again. That is every
 * renewal, and every state a stock y-websocket client sends back: its provider re-sends each
 * state it applies, other people's included, so in a room of N each cursor move comes back to
 * the server N-1 times.
 */
export function decodePresence(update: Uint8Array, held?: Presence): PresenceEntry[] {
  const entries: PresenceEntry[] = []
  try {
    const decoder = decoding.createDecoder(update)
    const n = decoding.readVarUint(decoder)
    for (let i = 0; i < n; i++) {
      const client = decoding.readVarUint(decoder)
      const clock = decoding.readVarUint(decoder)
      entries.push({ client, clock, json: decoding.readVarString(decoder), removal: false })
    }
  } catch (err) {
    throw new TandemError('MALFORMED_MESSAGE', 'awareness update could not be decoded', { cause: err })
  }
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    // lib0 writes any number it is given as a varUint, and one past 2^53 (or Infinity) never
    // ends: such a client id or clock would hang whoever encodes it next.
    if (!Number.isSafeInteger(entry.client) || !Number.isSafeInteger(entry.clock)) {
      throw new TandemError('MALFORMED_MESSAGE', 'a presence client id or clock is past 2^53')
    }
    // Every receiver parses what it is relayed; one that cannot be parsed would break them all.
    let removal = entry.json === 'null'
    // A held text is a state (never a removal) that was parsed when it came.
    if (!removal && held?.state(entry.client) !== entry.json) {
      try {
        removal = JSON.parse(entry.json) === null
      } catch (err) {
        throw new TandemError('MALFORMED_MESSAGE', 'awareness update holds a state that is not JSON', { cause: err })
      }
    }
    if (removal) entries[i] = { ...entry, removal }
  }
  return entries
}

/**
 * A client the room has heard of. Kept for a while after it leaves (state null): its clock then
 * refuses an older state still on its way from another peer (see forget).
 */
interface Seen {
  clock: number
  /** When its state last came or went, in ms since the Presence was made (a small integer). */
  at: number
  json: string | null
}

export class Presence {
  private readonly seen = new Map<number, Seen>()
  private present = 0
  private readonly epoch: number

  /** `now` in ms: a monotonic clock, so that setting the system's clock expires nobody. */
  constructor(private readonly now: () => number = monotonicMs) {
    this.epoch = now()
  }

  /** How many clients have a state. */
  get size(): number {
    return this.present
  }

  has(client: number): boolean {
    return (this.seen.get(client)?.json ?? null) !== null
  }

  /** The clock of the client's latest state or removal; 0 for one never heard of. */
  clock(client: number): number {
    return this.seen.get(client)?.clock ?? 0
  }

  /** The JSON of the client's state; undefined when it has none. */
  state(client: number): string | undefined {
    return this.seen.get(client)?.json ?? undefined
  }

  /** The clients with a state. */
  clients(): number[] {
    const out: number[] = []
    for (const [client, seen] of this.seen) if (seen.json !== null) out.push(client)
    return out
  }

  /**
   * Applies decoded entries by y-protocols' rule: a higher clock wins, and a removal with the same
   * clock removes. Null when nothing changed.
   */
  apply(entries: readonly PresenceEntry[]): PresenceChange | null {
    let added: number[] | null = null
    let updated: number[] | null = null
    let removed: number[] | null = null
    let renewed: number[] | null = null
    const at = this.now() - this.epoch
    for (const { client, clock, json, removal } of entries) {
      const seen = this.seen.get(client)
      const current = seen?.clock ?? 0
      const had = seen !== undefined && seen.json !== null
      if (!(current < clock || (current === clock && removal && had))) continue
      if (seen === undefined) {
        // A removal of a client never seen is recorded (its clock) but announced to nobody.
        this.seen.set(client, { clock, at, json: removal ? null : json })
        if (removal) continue
        this.present++
        ;(added ??= []).push(client)
        continue
      }
      // A renewal only if all of the client's entries in this update are: one that also changed
      // (the same client twice in one update, which stock clients never send) goes out as a change.
      const again = (updated !== null && updated.includes(client)) || (added !== null && added.includes(client))
      if (had && !removal && seen.json === json) {
        if (!again) (renewed ??= []).push(client)
      } else if (again && renewed !== null && renewed.includes(client)) renewed = renewed.filter((id) => id !== client)
      // Changed in place: a new record per cursor move was one more object to outlive the turn.
      seen.clock = clock
      seen.at = at
      seen.json = removal ? null : json
      if (removal) {
        if (had) this.present--
        ;(removed ??= []).push(client)
      } else {
        if (!had) this.present++
        ;(updated ??= []).push(client)
      }
    }
    if (added === null && updated === null && removed === null) return null
    return { added: added ?? NONE, updated: updated ?? NONE, removed: removed ?? NONE, renewed: renewed ?? NONE }
  }

  /** Removes the states of `clients` (those that have one), their clocks as they are. */
  remove(clients: readonly number[]): PresenceChange | null {
    let removed: number[] | null = null
    const at = this.now() - this.epoch
    for (const client of clients) {
      const seen = this.seen.get(client)
      if (seen === undefined || seen.json === null) continue
      seen.json = null
      seen.at = at
      this.present--
      ;(removed ??= []).push(client)
    }
    return removed === null ? null : { added: NONE, updated: NONE, removed, renewed: NONE }
  }

  /** The clients whose state has not been renewed for `timeoutMs`. */
  outdated(timeoutMs: number): number[] {
    const at = this.now() - this.epoch
    const out: number[] = []
    for (const [client, seen] of this.seen) if (seen.json !== null && at - seen.at >= timeoutMs) out.push(client)
    return out
  }

  /**
   * Forgets the clients that left more than `afterMs` ago. y-protocols keeps a record of every
   * client it ever heard of, and a browser tab gets a new client id at every load: a document
   * that someone always has open would keep one per visit for as long as it stays loaded. The
   * record's clock guards against a state older than the removal arriving after it, which comes
   * within moments (a peer relaying what it just applied), not after the timeout.
   */
  forget(afterMs: number): void {
    const at = this.now() - this.epoch
    for (const [client, seen] of this.seen) if (seen.json === null && at - seen.at >= afterMs) this.seen.delete(client)
  }

  /** An awareness update with every client's state: what a joiner is sent. */
  encodeAll(): Uint8Array {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, this.present)
    for (const [client, seen] of this.seen) if (seen.json !== null) writeEntry(encoder, client, seen.clock, seen.json)
    return encoding.toUint8Array(encoder)
  }

  /** An awareness update with the current state (or removal) of each of `clients`. */
  encode(clients: readonly number[]): Uint8Array {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, clients.length)
    for (const client of clients) {
      const seen = this.seen.get(client)
      writeEntry(encoder, client, seen?.clock ?? 0, seen?.json ?? 'null')
    }
    return encoding.toUint8Array(encoder)
  }
}

/** One entry of an awareness update: varUint(client) • varUint(clock) • varString(json). */
function writeEntry(encoder: encoding.Encoder, client: number, clock: number, json: string): void {
  encoding.writeVarUint(encoder, client)
  encoding.writeVarUint(encoder, clock)
  encoding.writeVarString(encoder, json)
}
