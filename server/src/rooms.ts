/**
 * The registry of loaded rooms. A room is loaded once however many peers join at the same moment
 * (they share the in-flight load), and unloaded (flushed first) a while after its last peer
 * leaves. A join that arrives during an unload waits for it and then loads afresh, so it never
 * sees a half-destroyed room nor races the final write.
 */
import { CommitTurn } from './commit-turn.js'
import { TandemError } from './errors.js'
import type { Envelope, Fanout } from './fanout/fanout.js'
import type { Logger } from './log.js'
import { Room, type RoomLink, type RoomOptions } from './room.js'
import type { Store } from './store/store.js'

export interface RoomsOptions extends RoomOptions {
  /** How long an empty room stays loaded. */
  readonly idleMs: number
  /**
   * How often rooms are checked for a document nobody wrote since the last check, which then
   * goes back to its encoded form (Room.rest). Absent: never.
   */
  readonly restCheckMs?: number
  /**
   * Longest a rest check runs in one event-loop turn before it lets other work in (default
   * REST_SLICE_MS; 0: one room per turn).
   */
  readonly restSliceMs?: number
}

/**
 * Resting a room encodes its document (`Y.encodeStateAsUpdate`): tens of microseconds for a
 * note, milliseconds for a long document. When a class or a meeting ends, hundreds of rooms
 * fall quiet together and the next check would rest them all in one turn, holding every
 * keystroke of every other room behind it, as the heartbeat once did with its pings. The check
 * goes on in the next turn instead once it has used this long.
 */
const REST_SLICE_MS = 4

interface Slot {
  readonly name: string
  /** Peers holding the room, counted from the moment they ask, so a load in flight is not unloaded. */
  holders: number
  room: Room | null
  loading: Promise<Room> | null
  unloading: Promise<void> | null
  idleTimer: NodeJS.Timeout | null
}

export class Rooms {
  private readonly slots = new Map<string, Slot>()
  /** The rest check going on, if one is: its rooms are looked at a slice per turn. */
  private resting: { readonly done: Promise<void>; next: NodeJS.Immediate | null; readonly finish: () => void } | null = null
  private readonly store: Store
  private readonly options: RoomsOptions
  private readonly log: Logger
  private readonly fanout: Fanout | null
  private restTimer: NodeJS.Timeout | null = null

  /** `fanout` connects rooms to the same documents on other instances; null on a single one. */
  constructor(store: Store, options: RoomsOptions, log: Logger, fanout: Fanout | null = null) {
    this.store = store
    // The rooms of one store commit together, one transaction per turn where the store can.
    this.options = options.commits ? options : { ...options, commits: new CommitTurn(store) }
    this.log = log
    this.fanout = fanout
    fanout?.onResume(() => {
      for (const slot of this.slots.values()) {
        if (!slot.room) continue
        void slot.room.catchUp()
        // Presence changed elsewhere while messages were lost: ask for it rather than wait for
        // the clients' 15 s renewal.
        fanout.publish(slot.name, { kind: 'presence-query' })
      }
    })
    fanout?.onInstanceGone((instanceId) => {
      for (const slot of this.slots.values()) slot.room?.dropInstance(instanceId)
    })
    if (options.restCheckMs) {
      // One timer for all rooms: a document written during an interval stays a Y.Doc until it
      // has been quiet for a whole one.
      this.restTimer = setInterval(() => void this.restQuiet(), options.restCheckMs)
      this.restTimer.unref()
    }
  }

  /**
   * Rests every loaded room nobody wrote to since the last check (Room.restIfQuiet), a slice of
   * at most restSliceMs per turn. Resolves when every room has been looked at; a check while one
   * is still going on joins it.
   */
  restQuiet(): Promise<void> {
    if (this.resting) return this.resting.done
    const rooms = this.loaded()
    const sliceMs = this.options.restSliceMs ?? REST_SLICE_MS
    let finish!: () => void
    const pass = { done: new Promise<void>((resolve) => (finish = resolve)), next: null as NodeJS.Immediate | null, finish }
    this.resting = pass
    const slice = (from: number) => {
      pass.next = null
      const until = performance.now() + sliceMs
      let i = from
      while (i < rooms.length) {
        rooms[i++]!.restIfQuiet()
        if (performance.now() >= until) break
      }
      if (i < rooms.length) pass.next = setImmediate(slice, i)
      else {
        this.resting = null
        finish()
      }
    }
    slice(0)
    return pass.done
  }

  /** Every loaded room, for metrics. */
  loaded(): Room[] {
    const rooms: Room[] = []
    for (const slot of this.slots.values()) if (slot.room) rooms.push(slot.room)
    return rooms
  }

  get loadedCount(): number {
    let n = 0
    for (const slot of this.slots.values()) if (slot.room) n++
    return n
  }

  /**
   * The document's current text, or null when it was never written. Reads the loaded room when
   * there is one; otherwise loads the stored document just for this, without registering a room.
   */
  async text(name: string): Promise<string | null> {
    for (;;) {
      const slot = this.slots.get(name)
      if (slot?.unloading) {
        await slot.unloading
        continue
      }
      const room = slot ? (slot.room ?? (await slot.loading)) : null
      if (room) return room.hasContent ? room.text() : null
      const transient = await Room.load(name, this.store, this.options, this.log)
      try {
        return transient.hasContent ? transient.text() : null
      } finally {
        transient.destroy()
      }
    }
  }

  /**
   * Holds the room, loading it if needed. Each successful acquire must be paired with release().
   * Throws TandemError LOAD_FAILED when the store cannot produce the document.
   */
  async acquire(name: string): Promise<Room> {
    for (;;) {
      let slot = this.slots.get(name)
      if (slot?.unloading) {
        await slot.unloading
        continue
      }
      if (!slot) {
        slot = { name, holders: 0, room: null, loading: null, unloading: null, idleTimer: null }
        this.slots.set(name, slot)
        slot.loading = this.load(slot)
      }
      slot.holders++
      if (slot.idleTimer) {
        clearTimeout(slot.idleTimer)
        slot.idleTimer = null
      }
      if (slot.room) return slot.room
      try {
        return await slot.loading!
      } catch (err) {
        slot.holders--
        throw err
      }
    }
  }

  release(room: Room): void {
    const slot = this.slots.get(room.name)
    if (!slot || slot.room !== room) return
    slot.holders--
    if (slot.holders === 0) {
      // Nobody left to write: no need to hold the Y.Doc until the room unloads, nor to leave
      // the next load a tail to merge. A failed write is logged by the room and retried later.
      room.rest()
      room.settle().catch(() => {})
      this.armIdle(slot)
    }
  }

  /** Flushes and unloads every room: used at shutdown, after the peers are gone. */
  async closeAll(): Promise<void> {
    if (this.restTimer) clearInterval(this.restTimer)
    if (this.resting) {
      if (this.resting.next) clearImmediate(this.resting.next)
      this.resting.finish()
      this.resting = null
    }
    const slots = Array.from(this.slots.values())
    await Promise.all(
      slots.map(async (slot) => {
        if (slot.idleTimer) clearTimeout(slot.idleTimer)
        slot.idleTimer = null
        if (slot.unloading) return slot.unloading
        const room = slot.room ?? (await slot.loading?.catch(() => null))
        if (!room) return
        try {
          await room.flush()
        } catch (err) {
          this.log.error('final flush failed at shutdown', { room: slot.name, err })
        }
        room.destroy()
        this.slots.delete(slot.name)
      }),
    )
  }

  private async load(slot: Slot): Promise<Room> {
    const started = performance.now()
    const link = this.subscribe(slot)
    try {
      const room = await Room.load(slot.name, this.store, this.options, this.log, link?.link ?? null)
      slot.room = room
      slot.loading = null
      // Messages that came while the store was read: already-known ones are skipped by sequence.
      for (const envelope of link?.early.splice(0) ?? []) room.receive(envelope)
      this.log.debug('room loaded', { room: slot.name, ms: Math.round(performance.now() - started) })
      return room
    } catch (err) {
      // Forget the slot, so the next join tries again, and write nothing back.
      void this.fanout?.unsubscribe(slot.name)
      this.slots.delete(slot.name)
      this.log.error('room load failed', { room: slot.name, err })
      throw new TandemError('LOAD_FAILED', 'document could not be loaded', { cause: err })
    }
  }

  private armIdle(slot: Slot): void {
    if (slot.idleTimer) clearTimeout(slot.idleTimer)
    slot.idleTimer = setTimeout(() => {
      slot.idleTimer = null
      if (slot.holders === 0 && slot.room && !slot.unloading) slot.unloading = this.unload(slot, slot.room)
    }, this.options.idleMs)
  }

  private async unload(slot: Slot, room: Room): Promise<void> {
    try {
      await room.flush()
    } catch (err) {
      // Keep the room and its unsaved updates in memory; try again after another idle period.
      this.log.error('flush before unload failed; keeping the room loaded', { room: slot.name, err })
      slot.unloading = null
      if (slot.holders === 0) this.armIdle(slot)
      return
    }
    room.destroy()
    // Before the slot goes, so a later subscribe for the same name is ordered after this.
    void this.fanout?.unsubscribe(slot.name)
    this.slots.delete(slot.name)
    this.log.debug('room unloaded', { room: slot.name })
  }

  /**
   * Subscribes to the document's fan-out before its load reads the store, so nothing published
   * after that read is missed; what arrives before the room exists waits in `early`. The
   * subscription is not awaited (Redis may be down: the room must load anyway); once it is in
   * place, a catch-up covers whatever was published before it.
   */
  private subscribe(slot: Slot): { link: RoomLink; early: Envelope[] } | null {
    const fanout = this.fanout
    if (!fanout) return null
    const early: Envelope[] = []
    fanout
      .subscribe(slot.name, (envelope) => {
        if (slot.room) slot.room.receive(envelope)
        else if (slot.loading) early.push(envelope)
      })
      .then(
        async () => {
          // Up while the load was still reading: that read may predate the subscription.
          const room = slot.room ?? (await slot.loading?.catch(() => null))
          // Presence is not in the store: ask the other instances for theirs instead.
          fanout.publish(slot.name, { kind: 'presence-query' })
          await room?.catchUp()
        },
        (err) => this.log.warn('fan-out subscribe failed; the room relies on catch-up', { room: slot.name, err }),
      )
    return { link: { publish: (message) => fanout.publish(slot.name, message) }, early }
  }
}
