/**
 * A room's outbox: what waits for the updates before it to be stored before anyone is sent it.
 * Relays of updates and replies (a sync step 2, a `saved` answer) wait as frames; presence
 * changes wait in batches, encoded only as they go out.
 *
 * Presence is not durable state, but it must not overtake the text it points into: a cursor
 * sent right after a keystroke names that keystroke's position. So a change waits behind the
 * updates still being stored, and the changes of one turn leave together, one frame per peer:
 * when a room fills or comes back after a restart, every arrival is announced to every peer,
 * and one frame per turn instead of one per arrival is most of what that costs.
 */
import type { Presence } from './presence.js'
import * as protocol from './protocol.js'
import type { Peer } from './room.js'

/**
 * A frame to deliver once what it depends on is committed: to one peer, or to all but one. A
 * document update carries its integration number `n`, so a peer that is behind can skip it.
 */
export type Frame = { readonly frame: Uint8Array; readonly to: Peer } | { readonly frame: Uint8Array; readonly except: unknown; readonly n?: number }

export type Outgoing = Frame | PresenceBatch

/**
 * Presence changes waiting in the outbox: each awareness client id with where its latest change
 * came from (a peer, which is not sent it back; anything else for everyone). Encoded only when
 * it goes out, with each state as it is then. An id is in one batch at a time, the one of its
 * latest change: a later state, which may name text that is still in the outbox, never goes out
 * ahead of that text.
 */
export interface PresenceBatch {
  readonly presence: Map<number, unknown>
  /**
   * For an id whose latest change came as a message of its own (one client's state, applied as
   * it came), that message. A batch of that id alone is relayed as it came instead of encoded
   * again from the stored state, which is what a cursor move is.
   */
  arrived?: Map<number, Uint8Array>
}

/** A batch's frames: one for every peer, and one for each peer that sent part of it (or none). */
export interface PresenceFrames {
  readonly all: Frame
  readonly own: Map<unknown, Frame | null>
}

export class Outbox {
  private readonly presence: Presence
  private items: Outgoing[] = []
  /**
   * The batch holding each awareness client id's change not yet sent; null for a client that is
   * present with nothing waiting (see release).
   */
  private readonly batches = new Map<number, PresenceBatch | null>()

  /** `presence` is the room's: what a batch encodes as it goes out. */
  constructor(presence: Presence) {
    this.presence = presence
  }

  get length(): number {
    return this.items.length
  }

  push(out: Frame): void {
    this.items.push(out)
  }

  /** Everything waiting, in order; the outbox is empty afterwards. */
  take(): Outgoing[] {
    const out = this.items
    this.items = []
    return out
  }

  /** Puts what take() returned back in front of whatever came since (its commit failed). */
  restore(taken: Outgoing[]): void {
    this.items = taken.concat(this.items)
  }

  /**
   * Puts presence changes in the last batch (a new one when the outbox ends with a frame), out of
   * any earlier batch. `arrived` is the message, when it was one client's state as it came.
   */
  batchPresence(ids: readonly number[], origin: unknown, arrived: Uint8Array | null): void {
    const last = this.items[this.items.length - 1]
    let batch: PresenceBatch
    if (last !== undefined && 'presence' in last) batch = last
    else {
      batch = { presence: new Map() }
      this.items.push(batch)
    }
    for (const id of ids) {
      const earlier = this.batches.get(id)
      if (earlier != null && earlier !== batch) earlier.presence.delete(id)
      batch.presence.set(id, origin)
      if (arrived !== null) (batch.arrived ??= new Map()).set(id, arrived)
      else batch.arrived?.delete(id)
      this.batches.set(id, batch)
    }
  }

  /** Takes these ids' changes out of the batches they wait in: they are being sent another way. */
  unbatch(ids: readonly number[]): void {
    for (const id of ids) {
      this.batches.get(id)?.presence.delete(id)
      this.release(id)
    }
  }

  /**
   * Encodes a batch as it goes out: null when every change in it moved to a later batch. A peer
   * (one of `peers`) is not sent back its own changes: usually the batch is one peer's cursor,
   * and that peer gets nothing.
   */
  presenceFrames(batch: PresenceBatch, peers: ReadonlyMap<unknown, unknown>): PresenceFrames | null {
    if (batch.presence.size === 0) return null
    const ids: number[] = []
    const origins = new Set<unknown>()
    for (const [id, origin] of batch.presence) {
      if (this.batches.get(id) === batch) this.release(id)
      ids.push(id)
      if (peers.has(origin)) origins.add(origin)
    }
    const encode = (of: number[]) => {
      const arrived = of.length === 1 ? batch.arrived?.get(of[0]!) : undefined
      return protocol.encodeAwareness(arrived ?? this.presence.encode(of))
    }
    const own = new Map<unknown, Frame | null>()
    for (const origin of origins) {
      const others = ids.filter((id) => batch.presence.get(id) !== origin)
      own.set(origin, others.length > 0 ? { frame: encode(others), except: null } : null)
    }
    return { all: { frame: encode(ids), except: null }, own }
  }

  /**
   * `id` has no change waiting any more. Its entry stays, as null, while the client is present:
   * a Map whose last entry is deleted allocates a new table, and a typist's cursor emptied and
   * refilled this one at every keystroke, the new table outliving the turn (promoted, about 100
   * bytes a cursor move). Deleted once the client's state is gone, so the Map holds only the
   * present.
   */
  private release(id: number): void {
    if (this.presence.has(id)) this.batches.set(id, null)
    else this.batches.delete(id)
  }
}
