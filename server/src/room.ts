/**
 * One document being edited: its Y.Doc, its awareness, the peers connected to it, and the rule
 * that makes it durable: an update is appended to the store before anyone else sees it.
 *
 * Updates from all peers during one event-loop turn are committed together (group commit) and
 * only then relayed. Anything else whose content depends on uncommitted state (a sync step 2
 * reply) waits in the same outbox, so no client ever holds an update the store could lose.
 * The room knows nothing of sockets (a Peer is anything with send) nor of SQL (a Store).
 */
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { TandemError } from './errors.js'
import type { Logger } from './log.js'
import * as protocol from './protocol.js'
import type { ClientMessage } from './protocol.js'
import type { Store } from './store/store.js'

/** What a room needs of a connection. */
export interface Peer {
  readonly id: number
  send(frame: Uint8Array): void
}

export interface RoomOptions {
  /** Updates stored after the snapshot before a new snapshot is written. */
  readonly compactAfterUpdates: number
  /** Delay before retrying a failed commit. */
  readonly retryDelayMs: number
}

/** A frame to deliver once what it depends on is committed: to one peer, or to all but one. */
type Outgoing = { readonly frame: Uint8Array; readonly to: Peer } | { readonly frame: Uint8Array; readonly except: unknown }

/** The Y.Text the editor binds to. */
export const TEXT_NAME = 'codemirror'

export class Room {
  readonly name: string
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  /** Each peer with the awareness client ids it controls, removed when it leaves. */
  private readonly peers = new Map<Peer, Set<number>>()
  private readonly store: Store
  private readonly options: RoomOptions
  private readonly log: Logger

  /** Updates applied to the doc but not yet handed to the store. */
  private pending: Uint8Array[] = []
  /** Frames that wait for `pending` (and any commit in flight) to be durable. */
  private outbox: Outgoing[] = []
  private committing = false
  private commitScheduled = false
  private retryTimer: NodeJS.Timeout | null = null
  /** Serialises commits and compactions: the store sees one call per room at a time. */
  private chain: Promise<void> = Promise.resolve()
  private seq: number
  private tail: number
  private written: boolean
  private isDestroyed = false

  /** Loads a room from the store. Throws if the store fails or holds something Yjs rejects. */
  static async load(name: string, store: Store, options: RoomOptions, log: Logger): Promise<Room> {
    const stored = await store.load(name)
    const doc = new Y.Doc()
    if (stored) {
      Y.transact(doc, () => {
        for (const update of stored.updates) Y.applyUpdate(doc, update)
      })
    }
    return new Room(name, doc, store, options, log, stored?.seq ?? 0, stored?.tail ?? 0, stored !== null)
  }

  private constructor(
    name: string,
    doc: Y.Doc,
    store: Store,
    options: RoomOptions,
    log: Logger,
    seq: number,
    tail: number,
    written: boolean,
  ) {
    this.name = name
    this.doc = doc
    this.store = store
    this.options = options
    this.log = log
    this.seq = seq
    this.tail = tail
    this.written = written
    this.awareness = new awarenessProtocol.Awareness(doc)
    // The server is not a participant: no state of its own in anyone's list.
    this.awareness.setLocalState(null)
    doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
  }

  get destroyed(): boolean {
    return this.isDestroyed
  }

  get size(): number {
    return this.peers.size
  }

  /** Whether anything was ever stored for this document (or is about to be). */
  get hasContent(): boolean {
    return this.written || this.pending.length > 0
  }

  text(): string {
    return this.doc.getText(TEXT_NAME).toString()
  }

  join(peer: Peer): void {
    this.peers.set(peer, new Set())
    peer.send(protocol.encodeSyncStep1(Y.encodeStateVector(this.doc)))
    if (this.awareness.getStates().size > 0) {
      const clients = Array.from(this.awareness.getStates().keys())
      peer.send(protocol.encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients)))
    }
  }

  /** Removes the peer and, at once, the awareness states it owned, telling everyone else. */
  leave(peer: Peer): void {
    const owned = this.peers.get(peer)
    if (!owned) return
    this.peers.delete(peer)
    if (owned.size > 0) awarenessProtocol.removeAwarenessStates(this.awareness, Array.from(owned), null)
  }

  /** Handles one decoded message. Throws a TandemError when it cannot; the caller closes the peer. */
  handle(peer: Peer, message: ClientMessage): void {
    switch (message.kind) {
      case 'sync-step1': {
        let diff: Uint8Array
        try {
          diff = Y.encodeStateAsUpdate(this.doc, message.stateVector)
        } catch (err) {
          throw new TandemError('MALFORMED_MESSAGE', 'sync step 1 carries an invalid state vector', { cause: err })
        }
        this.sendWhenDurable({ frame: protocol.encodeSyncStep2(diff), to: peer })
        return
      }
      case 'sync-step2':
      case 'update':
        try {
          // Yjs integrates an update's structs before it reads its delete set, so an update cut
          // short there would be half-applied (then stored and relayed) before it throws.
          // Decoding it whole first rejects it while the doc is untouched.
          Y.decodeUpdate(message.update)
          Y.applyUpdate(this.doc, message.update, peer)
        } catch (err) {
          throw new TandemError('INVALID_UPDATE', `update could not be applied: ${(err as Error).message}`, { cause: err })
        }
        return
      case 'awareness':
        try {
          awarenessProtocol.applyAwarenessUpdate(this.awareness, message.update, peer)
        } catch (err) {
          throw new TandemError('MALFORMED_MESSAGE', 'awareness update could not be decoded', { cause: err })
        }
        return
      case 'query-awareness': {
        const clients = Array.from(this.awareness.getStates().keys())
        peer.send(protocol.encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients)))
        return
      }
      case 'saved-query':
        // Messages from one socket are handled in order, so everything this peer sent before the
        // query has been applied: answering once that is committed tells it all of it is durable,
        // deletions included (which a state vector would not show).
        this.sendWhenDurable({ frame: protocol.encodeSaved(message.id), to: peer })
        return
    }
  }

  /** Resolves when everything applied so far is in the store (and relayed); rejects if the store fails. */
  flush(): Promise<void> {
    return this.enqueue()
  }

  destroy(): void {
    if (this.isDestroyed) return
    this.isDestroyed = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.doc.off('update', this.onDocUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    this.awareness.destroy()
    this.doc.destroy()
    this.peers.clear()
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    this.pending.push(update)
    this.outbox.push({ frame: protocol.encodeUpdate(update), except: origin })
    this.scheduleCommit()
  }

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    const owned = this.peers.get(origin as Peer)
    if (owned) {
      for (const id of added) owned.add(id)
      for (const id of updated) owned.add(id)
      for (const id of removed) owned.delete(id)
    }
    const changed = added.concat(updated, removed)
    // Presence is not durable state: relay it at once, encoded once for every peer.
    const frame = protocol.encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed))
    for (const peer of this.peers.keys()) if (peer !== origin) peer.send(frame)
  }

  private sendWhenDurable(out: Outgoing): void {
    if (this.pending.length === 0 && !this.committing) this.deliver([out])
    else this.outbox.push(out)
  }

  private deliver(frames: readonly Outgoing[]): void {
    for (const out of frames) {
      if ('to' in out) {
        if (this.peers.has(out.to)) out.to.send(out.frame)
      } else {
        for (const peer of this.peers.keys()) if (peer !== out.except) peer.send(out.frame)
      }
    }
  }

  private scheduleCommit(): void {
    if (this.commitScheduled || this.isDestroyed) return
    this.commitScheduled = true
    // One commit per event-loop turn: every message read in this turn joins the same batch.
    setImmediate(() => {
      this.commitScheduled = false
      this.enqueue().catch(() => {
        // Logged in commit(); the batch is kept and retried.
      })
    })
  }

  private enqueue(): Promise<void> {
    const next = this.chain.catch(() => {}).then(() => this.commit())
    this.chain = next
    return next
  }

  private async commit(): Promise<void> {
    if (this.isDestroyed) return
    if (this.pending.length === 0) {
      // Nothing uncommitted: frames that waited on an earlier commit can go now.
      this.deliver(this.takeOutbox())
      return
    }
    const batch = this.pending
    const outbox = this.takeOutbox()
    this.pending = []
    this.committing = true
    try {
      this.seq = await this.store.append(this.name, batch)
    } catch (err) {
      // Nobody has seen these updates yet: keep them first in line and try again later.
      this.pending = batch.concat(this.pending)
      this.outbox = outbox.concat(this.outbox)
      this.log.error('store append failed; will retry', { room: this.name, updates: batch.length, err })
      this.scheduleRetry()
      throw err
    } finally {
      this.committing = false
    }
    this.written = true
    this.tail += batch.length
    this.deliver(outbox)
    if (this.pending.length === 0) this.deliver(this.takeOutbox())
    if (this.tail >= this.options.compactAfterUpdates) await this.compact()
  }

  /** Folds the stored log into one snapshot so the next load reads one blob and a short tail. */
  private async compact(): Promise<void> {
    const upTo = this.seq
    // The doc may also hold updates not yet appended; a snapshot with extra content is harmless
    // (they are appended later, and applying an update twice is a no-op in Yjs).
    const snapshot = Y.encodeStateAsUpdate(this.doc)
    const tail = this.tail
    try {
      await this.store.compact(this.name, snapshot, upTo)
      this.tail -= tail
    } catch (err) {
      // The log is intact; the next commit tries again.
      this.log.warn('compaction failed', { room: this.name, err })
    }
  }

  private takeOutbox(): Outgoing[] {
    const out = this.outbox
    this.outbox = []
    return out
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.isDestroyed) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.scheduleCommit()
    }, this.options.retryDelayMs)
  }
}
