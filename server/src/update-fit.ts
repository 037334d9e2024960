/**
 * What a decoded update asks of the document it is applied to, read before it is applied: that
 * its numbers are safe to write back, and whether everything it builds on is already there.
 *
 * These are module functions over plain data, not closures made per call: they run for every
 * keystroke a server receives.
 */
import * as Y from 'yjs'
import type { DecodedUpdate } from './merge-run.js'

/**
 * lib0 reads a varUint's last byte without a range check, so a few bytes can decode to a number
 * past 2^53 or to Infinity, and lib0 loops for ever writing Infinity back (when the update is
 * relayed, stored or held as pending). Every client, clock and length must be a safe integer.
 */
export function safeNumbers({ structs, ds }: DecodedUpdate): boolean {
  for (const struct of structs) {
    if (!safeId(struct.id) || !Number.isSafeInteger(struct.length) || !Number.isSafeInteger(struct.id.clock + struct.length)) return false
    if (struct instanceof Y.Item) {
      if (!safeId(struct.origin) || !safeId(struct.rightOrigin)) return false
      if (struct.parent instanceof Y.ID && !safeId(struct.parent)) return false
    }
  }
  for (const [client, ranges] of ds.clients) {
    if (!Number.isSafeInteger(client)) return false
    for (const { clock, len } of ranges) {
      if (!Number.isSafeInteger(clock) || !Number.isSafeInteger(len) || !Number.isSafeInteger(clock + len)) return false
    }
  }
  return true
}

function safeId(id: Y.ID | null): boolean {
  return id === null || (Number.isSafeInteger(id.client) && Number.isSafeInteger(id.clock))
}

/**
 * Whether Yjs can integrate all of an update at once: every struct continues its client's
 * clock without a gap, and every struct it points to (origin, right origin, parent) and every
 * range it deletes is in the doc or in the update. Errs on the side of "no" (then the room
 * takes the slower, exact path).
 */
export function fitsWithoutWaiting(doc: Y.Doc, { structs, ds }: DecodedUpdate): boolean {
  const store = doc.store
  // The clock each client reaches with the update's structs.
  const reach = newReach()
  for (const struct of structs) {
    const { client, clock } = struct.id
    const known = reached(store, reach, client)
    if (clock > known) return false
    extend(reach, client, Math.max(known, clock + struct.length))
  }
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue
    if (!pointsAtPresent(store, reach, struct)) return false
  }
  return deletesPresent(store, reach, ds)
}

/**
 * Whether an update only continues what the doc and the run before it hold (`reach`, which it
 * extends): every struct an Item that starts exactly where its client's clock ends, every struct
 * it points to (origin, right origin, parent) and every range it deletes already there. Such
 * updates, merged, apply as their parts would (mergeRun), and nothing in them waits.
 */
export function continuesRun(store: Y.Doc['store'], { structs, ds }: DecodedUpdate, reach: Reach): boolean {
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) return false
    const { client, clock } = struct.id
    if (clock !== reached(store, reach, client)) return false
    // What it points at may be in the doc, the run before it or this update before it.
    if (!pointsAtPresent(store, reach, struct)) return false
    extend(reach, client, clock + struct.length)
  }
  return deletesPresent(store, reach, ds)
}

/**
 * The clocks an update (or a run of them) brings: one client's in two numbers, any others' in a
 * Map. Nearly every update has one client, its author, and these checks run per keystroke: a Map
 * or a closure per call was most of what they allocated.
 */
export interface Reach {
  client: number
  clock: number
  others: Map<number, number> | null
}

/** Nothing brought yet: what continuesRun starts a run with. */
export function newReach(): Reach {
  return { client: -1, clock: 0, others: null }
}

/** The clock `client` reaches in the doc's store with what an update brings. */
function reached(store: Y.Doc['store'], reach: Reach, client: number): number {
  return client === reach.client ? reach.clock : (reach.others?.get(client) ?? Y.getState(store, client))
}

/** Records that `client`'s clock reaches `clock` with what an update brings. */
function extend(reach: Reach, client: number, clock: number): void {
  if (reach.client === -1 || client === reach.client) {
    reach.client = client
    reach.clock = clock
  } else (reach.others ??= new Map()).set(client, clock)
}

/** Whether `id` is in the doc's store or among the structs an update brings. */
function present(store: Y.Doc['store'], reach: Reach, id: Y.ID | null): boolean {
  return id === null || id.clock < reached(store, reach, id.client)
}

/** Whether everything an Item points at (origin, right origin, parent) is present. */
function pointsAtPresent(store: Y.Doc['store'], reach: Reach, item: Y.Item): boolean {
  if (!present(store, reach, item.origin) || !present(store, reach, item.rightOrigin)) return false
  return !(item.parent instanceof Y.ID) || present(store, reach, item.parent)
}

/** Whether every range a delete set names is present. */
function deletesPresent(store: Y.Doc['store'], reach: Reach, ds: DecodedUpdate['ds']): boolean {
  // Most updates delete nothing: no iterator for an empty Map.
  if (ds.clients.size === 0) return true
  for (const [client, ranges] of ds.clients) {
    const state = reached(store, reach, client)
    for (const { clock, len } of ranges) if (clock + len > state) return false
  }
  return true
}
