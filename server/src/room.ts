/**
 * One document being edited: its content (encoded until someone changes it, then a Y.Doc; see
 * doc-state.ts), its awareness, the peers connected to it, and the rule that makes it durable:
 * an update is appended to the store before anyone else sees it.
 *
 * Updates from all peers during one event-loop turn are committed together (group commit) and
 * only then relayed. Anything else whose content depends on uncommitted state (a sync step 2
 * reply) waits in the same outbox, so no client ever holds an update the store could lose.
 * The room knows nothing of sockets (a Peer is anything with send) nor of SQL (a Store).
 */
import * as Y from 'yjs'
import type { Committer } from './commit-turn.js'
import { DocState } from './doc-state.js'
import { refuseReusedIds } from './equivocation.js'
import { TandemError } from './errors.js'
import { mergeRun, type DecodedUpdate } from './merge-run.js'
import type { Envelope, FanoutMessage } from './fanout/fanout.js'
import type { Logger } from './log.js'
import { decodePresence, Presence, PRESENCE_TIMEOUT_MS, type PresenceChange, type PresenceEntry } from './presence.js'
import { Outbox, type Frame, type Outgoing, type PresenceFrames } from './outbox.js'
import * as protocol from './protocol.js'
import type { ClientMessage } from './protocol.js'
import { SequenceTracker } from './sequence.js'
import type { Store } from './store/store.js'
import { continuesRun, fitsWithoutWaiting, newReach, safeNumbers } from './update-fit.js'

/** What a room needs of a connection. */
export interface Peer {
  readonly id: number
  /** False for a viewer: its document updates are dropped, never applied, stored or relayed. */
  readonly canWrite?: boolean
  send(frame: Uint8Array): void
  /**
   * Bytes sent to this peer that have not left for the network yet. With `onceDrained`, it lets
   * the room merge the updates for a peer that reads slower than the room is written (below);
   * a peer without them is always sent every update.
   */
  readonly backlog?: number
  /** Calls `callback` once when the backlog has been written out. */
  onceDrained?(callback: () => void): void
  /**
   * Sends several frames in one write and one TCP segment (a keystroke and the cursor after it,
   * a sync step and presence); a peer without it is sent them one by one. Every peer that gets
   * the same frames in one delivery is handed the same list, never changed afterwards, so a
   * connection can build that write once for all of them (ws-frame.ts).
   */
  sendMany?(frames: readonly Uint8Array[]): void
}

/**
 * A peer with more than this many bytes queued unsent is behind: the room stops sending it
 * updates one by one and, once its queue has drained, sends it everything it missed as one
 * update. Typing never gets near it (a keystroke is tens of bytes; the kernel's socket buffer
 * takes megabytes before anything queues in the process); a reader that cannot keep up with a
 * fast writer (a paste of a book, a script, a replay) reaches it, and would otherwise make the
 * server queue every update for it, one buffer and one write each.
 */
const BEHIND_BYTES = 64 * 1024

/**
 * A peer that is behind, by integration numbers (see Room.integrated): updates numbered up to
 * `from` are sent as usual (they were in the doc before `stateVector` was read, so the catch-up
 * leaves them out); later ones are skipped, up to `to`, the number at which the catch-up was
 * computed (null while still behind). Updates after `to` go as usual again.
 */
interface Behind {
  readonly stateVector: Uint8Array
  readonly from: number
  to: number | null
}

/** What one document and one peer may hold; see docs/security.md. */
export interface RoomLimits {
  readonly maxDocBytes: number
  readonly maxPendingBytes: number
  readonly maxAwarenessStates: number
  readonly maxAwarenessStateBytes: number
}

export interface RoomOptions {
  /** Updates stored after the snapshot before a new snapshot is written. */
  readonly compactAfterUpdates: number
  /** Delay before retrying a failed commit. */
  readonly retryDelayMs: number
  /**
   * With a store other instances write too: how often to check for updates this room missed.
   * Absent or null for a store only this process writes.
   */
  readonly catchUpMs?: number | null
  /** Told how long each append took, for metrics. */
  readonly onAppend?: (seconds: number, ok: boolean) => void
  /** Absent: no limits (tests of other behaviour). */
  readonly limits?: RoomLimits
  /**
   * Where the room asks to commit at the end of the turn, with the other rooms of the server in
   * one store transaction (commit-turn.ts). Absent: a setImmediate of its own.
   */
  readonly commits?: { schedule(room: Committer): void }
  /** How long a client's presence lasts without being renewed; y-protocols' 30 s when absent. */
  readonly presenceTimeoutMs?: number
  /** How long a renewal of presence may wait to go out with others; PRESENCE_RENEWAL_DELAY_MS when absent. */
  readonly renewalDelayMs?: number
}

/** The room's line to other instances: where its committed updates and presence go. */
export interface RoomLink {
  publish(message: FanoutMessage): void
}

/** Origin of remote presence: relayed to local peers, never published back. */
const REMOTE = Symbol('remote')

/** Origin of held renewals relayed together (see holdRenewals): every peer is sent them. */
const RENEWAL = Symbol('renewal')

/** How long a renewal of presence may wait to go out with others (see holdRenewals). */
export const PRESENCE_RENEWAL_DELAY_MS = 2000

const NO_IDS: readonly number[] = Object.freeze([])

/**
 * Most updates applied in one Yjs transaction. Yjs merges the structs a transaction made with
 * their neighbours only when it ends, and finding and splitting structs to delete costs more
 * the more unmerged ones there are: past a few dozen updates, longer runs were slower.
 */
const RUN_MAX = 32

/** The least stored tail, in bytes, that makes a compaction due by size (see compactDue). */
const COMPACT_MIN_TAIL_BYTES = 64 * 1024

/** The Y.Text the editor binds to. */
export const TEXT_NAME = 'codemirror'

export class Room {
  readonly name: string
  /** Who is here: each client's presence state (see presence.ts). */
  readonly presence: Presence
  private readonly content: DocState
  /**
   * Each peer with the awareness client ids it controls (one, usually), removed when it leaves.
   * A small array made anew on change: a Set would cost every peer some 200 bytes for its one id.
   */
  private readonly peers = new Map<Peer, readonly number[]>()
  private readonly store: Store
  private readonly options: RoomOptions
  private readonly log: Logger

  /** Updates applied to the doc but not yet handed to the store. */
  private pending: Uint8Array[] = []
  /** Frames that wait for `pending` (and any commit in flight) to be durable. */
  private readonly outbox: Outbox
  private committing = false
  private commitScheduled = false
  private retryTimer: NodeJS.Timeout | null = null
  /** Set by a failed append, cleared by the next one that succeeds. */
  private storeFailing = false
  /**
   * Set by onTransaction: the state before the last transaction that changed the doc. Read by
   * integrate() and keepTaken(), and cleared after every transaction that does not need it:
   * held until the room's next update, a keystroke later, it outlived the young generation
   * and was promoted, one Map per keystroke in every room being typed in.
   */
  private taken: Map<number, number> | null = null
  /** Serialises commits and compactions: the store sees one call per room at a time. */
  private chain: Promise<void> = Promise.resolve()
  /** Steps on the chain, queued or running: with none, the next one starts at once (onChain). */
  private chained = 0
  /** Which stored sequence numbers the doc holds; compaction folds only up to `known`. */
  private readonly sequence: SequenceTracker
  private tail: number
  private written: boolean
  private isDestroyed = false
  private readonly link: RoomLink | null
  /** Awareness client ids whose state came from another instance, with that instance. */
  private readonly remoteOwners = new Map<number, string>()
  private catchUpTimer: NodeJS.Timeout | null = null
  private readonly presenceTimer: NodeJS.Timeout
  /** Renewals of presence waiting to go out together, with where each came from (holdRenewals). */
  private renewals: Map<number, unknown> | null = null
  private renewalTimer: NodeJS.Timeout | null = null
  /**
   * The stored size of the document, roughly: the bytes loaded plus every update since, reset
   * to the snapshot's size at each compaction. Errs high (deleted content counts until then).
   */
  private approxBytes = 0
  /** Sizes of the stored snapshot and of the updates stored after it: see compactDue(). */
  private snapshotBytes = 0
  private tailBytes = 0
  private catchingUp: Promise<void> | null = null
  private catchUpAgain: Promise<void> | null = null
  /** Counts the updates the doc has taken, in order: the `n` of each relayed update. */
  private integrated = 0
  /** Peers that read slower than the room is written; made when the first falls behind. */
  private behind: Map<Peer, Behind> | null = null
  /** `integrated` at the last restIfQuiet(): unchanged since means nothing was written. */
  private restMark = 0

  /**
   * Loads a room from the store. Throws if the store fails or holds something Yjs rejects.
   * `link` is null unless instances fan out to each other.
   */
  static async load(name: string, store: Store, options: RoomOptions, log: Logger, link: RoomLink | null = null): Promise<Room> {
    const stored = await store.load(name)
    const content = new DocState(stored?.updates ?? [])
    const room = new Room(name, content, store, options, log, link, stored?.seq ?? 0, stored?.tail ?? 0, stored !== null)
    const updates = stored?.updates ?? []
    for (const update of updates) room.approxBytes += update.length
    // The stored log is a snapshot (when there are more updates than tail rows) and its tail.
    const tail = stored?.tail ?? 0
    if (updates.length > tail) room.snapshotBytes = updates[0]!.length
    for (let i = updates.length - tail; i < updates.length; i++) room.tailBytes += updates[i]!.length
    return room
  }

  private constructor(
    name: string,
    content: DocState,
    store: Store,
    options: RoomOptions,
    log: Logger,
    link: RoomLink | null,
    seq: number,
    tail: number,
    written: boolean,
  ) {
    this.name = name
    this.content = content
    this.store = store
    this.options = options
    this.log = log
    this.link = link
    this.sequence = new SequenceTracker(seq)
    this.tail = tail
    this.written = written
    this.presence = new Presence()
    this.outbox = new Outbox(this.presence)
    // As y-protocols' Awareness does: a tenth of the timeout between checks.
    const presenceTimeout = options.presenceTimeoutMs ?? PRESENCE_TIMEOUT_MS
    this.presenceTimer = setInterval(() => this.expirePresence(presenceTimeout), presenceTimeout / 10)
    this.presenceTimer.unref()
    if (options.catchUpMs != null) {
      this.catchUpTimer = setInterval(() => void this.catchUp(), options.catchUpMs)
      this.catchUpTimer.unref()
    }
  }

  get destroyed(): boolean {
    return this.isDestroyed
  }

  /** The Y.Doc, built from the encoded content on first use; every change goes through it. */
  get doc(): Y.Doc {
    const live = this.content.live
    if (live) return live
    const doc = this.content.build()
    doc.on('afterTransaction', this.onTransaction)
    return doc
  }

  get size(): number {
    return this.peers.size
  }

  /** Whether the document is held as a Y.Doc (it was written since it was loaded or rested). */
  get live(): boolean {
    return this.content.live !== null
  }

  /**
   * Gives up the Y.Doc and keeps the document encoded, as a freshly loaded room does (see
   * doc-state.ts): a tenth of the memory for a document that is open but not being written.
   * Only when nothing is waiting to be stored or relayed; false when it did not.
   */
  rest(): boolean {
    const live = this.content.live
    if (!live || this.isDestroyed || this.pending.length > 0 || this.committing || this.outbox.length > 0) return false
    live.off('afterTransaction', this.onTransaction)
    if (this.content.rest()) return true
    live.on('afterTransaction', this.onTransaction)
    return false
  }

  /** Rests if the doc took no update since the last call (the caller calls it periodically). */
  restIfQuiet(): boolean {
    const quiet = this.integrated === this.restMark
    this.restMark = this.integrated
    return quiet && this.rest()
  }

  /** Whether anything was ever stored for this document (or is about to be). */
  get hasContent(): boolean {
    return this.written || this.pending.length > 0
  }

  text(): string {
    return this.content.text(TEXT_NAME)
  }

  join(peer: Peer): void {
    this.peers.set(peer, NO_IDS)
    const step1 = protocol.encodeSyncStep1(this.content.stateVector())
    if (this.presence.size === 0) return peer.send(step1)
    sendAll(peer, [step1, protocol.encodeAwareness(this.presence.encodeAll())])
  }

  /** Removes the peer and, at once, the awareness states it owned, telling everyone else. */
  leave(peer: Peer): void {
    const owned = this.peers.get(peer)
    if (!owned) return
    this.peers.delete(peer)
    this.behind?.delete(peer)
    const change = owned.length > 0 ? this.presence.remove(owned) : null
    if (change) this.presenceChanged(change, null, null)
  }

  /** Handles one decoded message. Throws a TandemError when it cannot; the caller closes the peer. */
  handle(peer: Peer, message: ClientMessage): void {
    switch (message.kind) {
      case 'sync-step1': {
        let diff: Uint8Array
        try {
          diff = this.content.diff(message.stateVector)
        } catch (err) {
          throw new TandemError('MALFORMED_MESSAGE', 'sync step 1 carries an invalid state vector', { cause: err })
        }
        this.sendWhenDurable({ frame: protocol.encodeSyncStep2(diff), to: peer })
        return
      }
      case 'sync-step2':
      case 'update': {
        const decoded = this.check(peer, message.update)
        if (!decoded) return
        const doc = this.doc
        let kept: Uint8Array | null
        try {
          kept = this.integrate(doc, message.update, decoded)
        } catch (err) {
          this.keepTaken(peer)
          throw invalidUpdate(err)
        }
        if (kept) this.accept(kept, peer)
        if (this.options.limits) this.limitPending(this.options.limits.maxPendingBytes)
        return
      }
      case 'awareness': {
        const entries = decodePresence(message.update, this.presence)
        if (this.options.limits) this.checkAwareness(peer, entries, this.options.limits)
        const change = this.presence.apply(entries)
        // One client's state, applied as it came (what a cursor move is), is relayed as it came.
        if (change) this.presenceChanged(change, peer, entries.length === 1 ? message.update : null)
        return
      }
      case 'query-awareness':
        peer.send(protocol.encodeAwareness(this.presence.encodeAll()))
        return
      case 'saved-query':
        // lib0 does not range-check a varUint's last byte: an over-long one decodes to a number
        // past 2^53, or Infinity, which writing the answer would loop on for ever.
        if (!Number.isSafeInteger(message.id)) throw new TandemError('MALFORMED_MESSAGE', 'savedQuery id is not a whole number below 2^53')
        // Messages from one socket are handled in order, so everything this peer sent before the
        // query has been applied: answering once that is committed tells it all of it is durable,
        // deletions included (which a state vector would not show).
        this.sendWhenDurable({ frame: protocol.encodeSaved(message.id), to: peer })
        return
    }
  }

  /**
   * Handles one peer's messages that came in one read of its socket, in order. Document updates
   * that follow each other there (a fast writer, a paste, a client catching up) are applied in
   * one Yjs transaction: Yjs's own work per transaction (state vectors, events, merging) was
   * most of what applying a small update cost, and most of its garbage.
   */
  handleAll(peer: Peer, messages: readonly ClientMessage[]): void {
    for (let i = 0; i < messages.length; ) {
      if (isDocUpdate(messages[i]!) && i + 1 < messages.length && isDocUpdate(messages[i + 1]!)) {
        let next = this.applyJoined(peer, messages, i)
        if (next === i) next = this.applyRun(peer, messages, i)
        // applyRun stops before an update it leaves to handle(): one that must wait for a
        // dependency, or follows one that did.
        if (next === i) this.handle(peer, messages[i++]!)
        else i = next
      } else {
        this.handle(peer, messages[i++]!)
      }
    }
  }

  /**
   * Applies the updates from `messages[start]` on as one, merged before they are applied, as long
   * as each only continues what the doc and the updates before it hold (continuesRun): structs
   * that start where their client's clock ends, pointing at and deleting only what is there.
   * That is how a typist's or a paste's updates come. Returns the index of the first message it
   * did not handle; `start` when it did nothing (fewer than two such updates), and applyRun
   * takes them one by one.
   *
   * Why merged first: mergeRun joins the characters typed in a row into one struct, so Yjs
   * makes one Item for the run instead of one per keystroke, to be joined again at the end of
   * the transaction (most of what the server's old generation grew by in the replay), and
   * decodes one update instead of dozens. Each update is still checked (check) before the run
   * is applied: against the doc, which is enough because continuesRun admits only structs past
   * everything the doc and the run before it hold, so none can reuse an ID. What is stored and
   * relayed is the update that was applied.
   */
  private applyJoined(peer: Peer, messages: readonly ClientMessage[], start: number): number {
    const doc = this.doc
    const store = doc.store
    if (store.pendingStructs !== null || store.pendingDs !== null) return start
    const reach = newReach()
    const taken: DecodedUpdate[] = []
    let first: Uint8Array | null = null
    let takenBytes = 0
    let refused: unknown = null
    let i = start
    for (; i < messages.length && i - start < RUN_MAX; i++) {
      const message = messages[i]!
      if (!isDocUpdate(message)) break
      let decoded: DecodedUpdate | null
      try {
        decoded = this.check(peer, message.update)
      } catch (err) {
        // Those before it are applied and kept all the same, as one by one they would be.
        refused = err
        break
      }
      if (!decoded) continue
      if (!continuesRun(store, decoded, reach)) break
      taken.push(decoded)
      first ??= message.update
      takenBytes += message.update.length
      // Counted at once, so that the size limit sees the run so far.
      this.approxBytes += message.update.length
    }
    if (taken.length < 2 && refused === null) {
      this.approxBytes -= takenBytes
      return start
    }
    if (taken.length > 0) {
      const update = taken.length === 1 ? first! : mergeRun(taken)
      if (update === null) {
        // continuesRun admits only what mergeRun takes; should they ever disagree, one by one.
        this.approxBytes -= takenBytes
        if (refused !== null) throw refused
        return start
      }
      Y.transact(doc, (tr) => {
        try {
          Y.applyUpdate(doc, update)
        } catch (err) {
          this.approxBytes -= takenBytes
          if (countRanges(tr.deleteSet) > 0 || advanced(store, tr.beforeState)) this.accept(takenSince(doc, tr.beforeState), peer)
          throw invalidUpdate(err)
        }
        if (store.pendingStructs !== null || store.pendingDs !== null) {
          // continuesRun errs on the side of "no"; should it ever be wrong, what the doc took
          // is what is kept.
          this.approxBytes -= takenBytes
          this.accept(takenSince(doc, tr.beforeState), peer)
          if (this.options.limits) this.limitPending(this.options.limits.maxPendingBytes)
          return
        }
        this.queue(update, peer)
      })
      this.taken = null
    }
    if (refused !== null) throw refused
    return i
  }

  /**
   * Applies the updates from `messages[start]` on in one transaction, as long as each fits the
   * doc without waiting for a dependency (for runs applyJoined leaves: an update the doc partly
   * holds, a GC struct; the others take handle()'s exact path). Returns the index of the first
   * message it did not handle.
   *
   * What the doc took of each update is known without a transaction of its own: since nothing
   * waits, it takes every struct past its client's clock, and a deletion shows in the
   * transaction's delete set. The updates it took are merged (queueRun) and stored and relayed
   * as one: a reader applies one update instead of dozens, each with a transaction of its own,
   * and the store writes one row. Should Yjs leave something waiting after all, or throw
   * half-way, what the whole transaction took is kept instead.
   */
  private applyRun(peer: Peer, messages: readonly ClientMessage[], start: number): number {
    const doc = this.doc
    const store = doc.store
    const limits = this.options.limits
    // What the doc took, update by update, stored and relayed as one update once the run ends.
    const kept: Uint8Array[] = []
    // Their decodings, from check(), for mergeRun.
    const keptDecoded: DecodedUpdate[] = []
    let keptBytes = 0
    let i = start
    try {
      Y.transact(doc, (tr) => {
        for (; i < messages.length && i - start < RUN_MAX; i++) {
          const message = messages[i]!
          if (!isDocUpdate(message)) return
          if (store.pendingStructs !== null || store.pendingDs !== null) return
          // Checked here, in order: an update is checked against the doc as the earlier ones left it.
          const decoded = this.check(peer, message.update)
          if (!decoded) continue
          if (!fitsWithoutWaiting(doc, decoded)) return
          let takes = false
          for (const struct of decoded.structs) {
            if (struct.id.clock + struct.length > Y.getState(store, struct.id.client)) {
              takes = true
              break
            }
          }
          // An update with no delete set deletes only by adding (a map key set again): `takes`.
          const deletes = decoded.ds.clients.size > 0
          const deleted = deletes ? countRanges(tr.deleteSet) : 0
          try {
            Y.applyUpdate(doc, message.update)
          } catch (err) {
            // As keepTaken(): whatever the transaction took is stored and relayed all the same
            // (the updates kept before this one included).
            this.keepRun(kept, keptDecoded, keptBytes)
            if (countRanges(tr.deleteSet) > 0 || advanced(store, tr.beforeState)) this.accept(takenSince(doc, tr.beforeState), peer)
            throw invalidUpdate(err)
          }
          if (store.pendingStructs !== null || store.pendingDs !== null) {
            this.keepRun(kept, keptDecoded, keptBytes)
            this.accept(takenSince(doc, tr.beforeState), peer)
            if (limits) this.limitPending(limits.maxPendingBytes)
            i++
            return
          }
          if (takes || (deletes && countRanges(tr.deleteSet) > deleted)) {
            kept.push(message.update)
            keptDecoded.push(decoded)
            keptBytes += message.update.length
            // Counted at once, so that the size limit sees the run so far.
            this.approxBytes += message.update.length
          }
        }
      })
    } finally {
      this.taken = null
      // Also when a later update of the run was refused: those before it are in the doc.
      if (kept.length > 0) this.queueRun(kept, keptDecoded, peer)
    }
    return i
  }

  /**
   * Queues a run's kept updates as one: merged from their decodings where the run has the usual
   * shape (mergeRun), else by Yjs; one by one should Yjs fail to merge them.
   */
  private queueRun(kept: readonly Uint8Array[], decoded: readonly DecodedUpdate[], origin: unknown): void {
    let merged: Uint8Array | null = kept.length === 1 ? kept[0]! : null
    try {
      merged ??= mergeRun(decoded) ?? Y.mergeUpdates(kept.slice())
    } catch (err) {
      // Each was applied whole, so each is still worth storing as it came: nothing the doc
      // holds may be left out of the store.
      this.log.warn('could not merge a run of updates; storing them one by one', { room: this.name, updates: kept.length, err })
      for (const update of kept) this.queue(update, origin)
      return
    }
    this.queue(merged, origin)
  }

  /** Forgets a run's kept updates, for a take of the whole transaction that includes them. */
  private keepRun(kept: Uint8Array[], decoded: DecodedUpdate[], keptBytes: number): void {
    this.approxBytes -= keptBytes
    kept.length = 0
    decoded.length = 0
  }

  /**
   * The checks every document update passes before it is applied; its decoding, or null when
   * there is nothing to apply (a viewer's update, or one the document already holds).
   */
  private check(peer: Peer, bytes: Uint8Array): ReturnType<typeof Y.decodeUpdate> | null {
    if (peer.canWrite === false) return null
    const limits = this.options.limits
    if (limits && this.approxBytes + bytes.length > limits.maxDocBytes) {
      throw new TandemError('DOCUMENT_TOO_LARGE', `the document would exceed ${limits.maxDocBytes} bytes`)
    }
    let decoded: ReturnType<typeof Y.decodeUpdate>
    try {
      // Yjs integrates an update's structs before it reads its delete set, so an update cut
      // short there would be half-applied (then stored and relayed) before it throws.
      // Decoding it whole first rejects it while the doc is untouched.
      decoded = Y.decodeUpdate(bytes)
      if (!safeNumbers(decoded)) throw new Error('a client, clock or length is past 2^53')
    } catch (err) {
      throw invalidUpdate(err)
    }
    // A client that is up to date answers sync step 2 with nothing new: no doc to build.
    if (this.content.holds(decoded, bytes)) return null
    try {
      refuseReusedIds(this.doc, decoded)
    } catch (err) {
      throw invalidUpdate(err)
    }
    return decoded
  }

  /** Resolves when everything applied so far is in the store (and relayed); rejects if the store fails. */
  flush(): Promise<void> {
    return this.enqueue()
  }

  /**
   * Stores what is pending and folds the stored tail, if there is one, into the snapshot: for
   * when the last peer has left. Loading a document with a tail means merging every row of it
   * with the snapshot, a cost paid again at every load (after a restart, all at once); written
   * here, the snapshot is one write per spell of editing, when nobody is waiting. Rejects if
   * the store fails (the tail is intact then).
   */
  settle(): Promise<void> {
    return this.onChain(async () => {
      await this.commit()
      if (!this.isDestroyed && this.pending.length === 0 && this.tail > 0) await this.compact()
    })
  }

  /**
   * A message from another instance. Updates arrive already stored (with their sequence
   * numbers); presence is relayed to this instance's peers.
   */
  receive(envelope: Envelope): void {
    if (this.isDestroyed) return
    const { message } = envelope
    if (message.kind === 'updates') {
      if (this.sequence.covers(message.first, message.last)) return
      try {
        for (const update of message.updates) this.applyStored(update)
      } catch (err) {
        // The store holds what the other instance stored; read it from there instead.
        this.log.warn('could not apply updates from another instance; catching up from the store', { room: this.name, err })
        void this.catchUp()
        return
      }
      this.sequence.add(message.first, message.last)
      if (this.sequence.hasGap) void this.catchUp()
      return
    }
    if (message.kind === 'presence-query') {
      this.publishPresence()
      return
    }
    let entries: PresenceEntry[]
    try {
      entries = decodePresence(message.update, this.presence)
    } catch (err) {
      this.log.warn('dropping a malformed awareness update from another instance', { room: this.name, err })
      return
    }
    const change = this.presence.apply(entries)
    if (change) this.presenceChanged(change, REMOTE, null)
    for (const { client, removal } of entries) {
      if (!removal) this.remoteOwners.set(client, envelope.from)
      else this.remoteOwners.delete(client)
    }
  }

  /**
   * Tells other instances the presence of this instance's peers in the document: asked for by
   * an instance that just subscribed (see FanoutMessage 'presence-query').
   */
  publishPresence(): void {
    if (!this.link) return
    const clients: number[] = []
    for (const ids of this.peers.values()) for (const id of ids) if (this.presence.has(id)) clients.push(id)
    if (clients.length > 0) this.link.publish({ kind: 'awareness', update: this.presence.encode(clients) })
  }

  /** Another instance stopped: the presence it relayed is gone with it. */
  dropInstance(instanceId: string): void {
    const clients: number[] = []
    for (const [client, owner] of this.remoteOwners) if (owner === instanceId) clients.push(client)
    for (const client of clients) this.remoteOwners.delete(client)
    const change = clients.length > 0 ? this.presence.remove(clients) : null
    if (change) this.presenceChanged(change, REMOTE, null)
  }

  /**
   * Reads whatever the store holds beyond what this room has seen (other instances' updates
   * that the fan-out dropped or has not delivered yet) and applies it. One at a time.
   */
  catchUp(): Promise<void> {
    if (this.isDestroyed) return Promise.resolve()
    if (this.catchingUp) {
      // The read in flight may predate what prompted this call (a gap just noticed): read once
      // more after it, and let every caller meanwhile wait for that second read.
      this.catchUpAgain ??= this.catchingUp.then(() => {
        this.catchUpAgain = null
        return this.catchUp()
      })
      return this.catchUpAgain
    }
    const run = async () => {
      const after = this.sequence.known
      const stored = await this.store.loadAfter(this.name, after)
      if (!stored || this.isDestroyed) return
      // One transaction each: applyStored picks each update's origin from the doc's state.
      for (const update of stored.updates) this.applyStored(update)
      this.sequence.advanceTo(stored.seq)
      if (stored.updates.length > 0) this.written = true
    }
    this.catchingUp = run()
      .catch((err) => this.log.warn('catch-up from the store failed; will retry', { room: this.name, err }))
      .finally(() => {
        this.catchingUp = null
      })
    return this.catchingUp
  }

  destroy(): void {
    if (this.isDestroyed) return
    this.isDestroyed = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    if (this.catchUpTimer) clearInterval(this.catchUpTimer)
    clearInterval(this.presenceTimer)
    if (this.renewalTimer) clearTimeout(this.renewalTimer)
    this.content.live?.off('afterTransaction', this.onTransaction)
    this.content.destroy()
    this.peers.clear()
  }

  /**
   * Applies an update that is already in the store. What the doc took of it is relayed to this
   * instance's peers without being appended again, unless structs that were waiting for a
   * dependency were integrated with it: those came from local peers and are not stored yet, so
   * then it is stored again (Yjs applies duplicates as no-ops).
   */
  private applyStored(update: Uint8Array): void {
    const kept = this.integrate(this.doc, update, Y.decodeUpdate(update))
    if (kept === null) return
    if (kept !== update) return this.accept(kept, null)
    this.approxBytes += update.length
    this.written = true
    this.deliver([{ frame: protocol.encodeUpdate(update), except: null, n: ++this.integrated }])
  }

  /**
   * Applies an update (`decoded` is its decoding) and returns what the doc took of it, to store
   * and relay; null when it took nothing (all known, or all left waiting for a dependency).
   *
   * Usually that is the update as it came: when nothing waits for a missing dependency before
   * it, and nothing in it will. Its IDs were checked against what the doc holds, so what Yjs
   * skips as known is the same content, which every receiver skips too. Otherwise what the doc
   * took is not the update as it came (it may include earlier waiting structs, or leave some of
   * its own waiting), and it is what Yjs emits for the transaction.
   *
   * Why not always Yjs's 'update' event: while anything listens to it, Yjs encodes every
   * transaction, and after merging an author's appended characters into their run it does so at
   * a cost in proportion to the run (it flattens the merged string): 2.2 ms per keystroke in
   * Room.handle at 4 MB of one author's text, against 14 µs without. A writer could make the
   * server spend that on every message. Structs waiting for a dependency are bounded by
   * MAX_PENDING_BYTES and cost their sender its connection past it.
   */
  private integrate(doc: Y.Doc, update: Uint8Array, decoded: ReturnType<typeof Y.decodeUpdate>): Uint8Array | null {
    const store = doc.store
    this.taken = null
    if (store.pendingStructs === null && store.pendingDs === null && fitsWithoutWaiting(doc, decoded)) {
      Y.applyUpdate(doc, update)
      const before = this.taken as Map<number, number> | null
      this.taken = null
      if (before === null) return null
      // fitsWithoutWaiting errs on the side of waiting; should it ever be wrong, what the doc
      // took is still what is kept.
      if (store.pendingStructs !== null || store.pendingDs !== null) return takenSince(doc, before)
      return update
    }
    // One applyUpdate is one transaction: one event at most.
    let emitted: Uint8Array | null = null
    const capture = (u: Uint8Array) => {
      emitted = u
    }
    doc.on('update', capture)
    try {
      Y.applyUpdate(doc, update)
    } finally {
      doc.off('update', capture)
    }
    return emitted
  }

  /**
   * An update that made Yjs throw half-way may have been partly integrated: what the doc took
   * is stored and relayed all the same, so that no state exists only in this process. Only a
   * malformed or hostile writer gets here.
   */
  private keepTaken(origin: unknown): void {
    const before = this.taken as Map<number, number> | null
    this.taken = null
    if (before) this.accept(takenSince(this.doc, before), origin)
  }

  private accept(update: Uint8Array, origin: unknown): void {
    this.approxBytes += update.length
    this.queue(update, origin)
  }

  /** Queues an update the doc took, to be stored, then relayed to every peer but `origin`. */
  private queue(update: Uint8Array, origin: unknown): void {
    this.pending.push(update)
    this.outbox.push({ frame: protocol.encodeUpdate(update), except: origin, n: ++this.integrated })
    this.scheduleCommit()
  }


  /**
   * Updates whose dependencies never arrive wait in the doc forever and are never stored: a
   * cheap way to fill the server's memory. Past the limit they are dropped (honest clients
   * resend what they still need through the sync handshake) and the sender is closed.
   */
  private limitPending(maxBytes: number): void {
    const store = this.doc.store
    const size = (store.pendingStructs?.update.length ?? 0) + (store.pendingDs?.length ?? 0)
    if (size <= maxBytes) return
    store.pendingStructs = null
    store.pendingDs = null
    throw new TandemError('TOO_MANY_PENDING', `more than ${maxBytes} bytes of updates wait for missing dependencies`)
  }



  /** Refuses presence beyond the per-peer limits before it is applied. */
  private checkAwareness(peer: Peer, entries: readonly PresenceEntry[], limits: RoomLimits): void {
    const owned = this.peers.get(peer) ?? NO_IDS
    // Made only when the peer claims an id it did not own: a cursor move (its own id) is every
    // message of a typist, and a Set per move was garbage for nothing.
    let claimed: Set<number> | null = null
    for (const entry of entries) {
      if (Buffer.byteLength(entry.json) > limits.maxAwarenessStateBytes) {
        throw new TandemError('AWARENESS_TOO_LARGE', `a presence state is larger than ${limits.maxAwarenessStateBytes} bytes`)
      }
      // Only a state that will be applied (a newer clock) is claimed. Stock clients send back
      // every state they hear of, unchanged: counting those would close the tenth person to join.
      if (!entry.removal && entry.clock > this.presence.clock(entry.client) && !owned.includes(entry.client)) {
        ;(claimed ??= new Set(owned)).add(entry.client)
      }
    }
    if ((claimed?.size ?? owned.length) > limits.maxAwarenessStates) {
      throw new TandemError('AWARENESS_TOO_LARGE', `more than ${limits.maxAwarenessStates} presence states from one connection`)
    }
  }

  /** Notes, for integrate(), the state before a transaction that integrated or deleted something. */
  private readonly onTransaction = (tr: Y.Transaction): void => {
    if (tr.deleteSet.clients.size > 0 || !sameState(tr.beforeState, tr.afterState)) this.taken = tr.beforeState
  }

  /**
   * Drops the presence of clients that stopped renewing it (gone without a word), and forgets
   * those gone for longer than that.
   */
  private expirePresence(timeoutMs: number): void {
    this.presence.forget(timeoutMs)
    const stale = this.presence.outdated(timeoutMs)
    const change = stale.length > 0 ? this.presence.remove(stale) : null
    if (change) this.presenceChanged(change, 'timeout', null)
  }

  /**
   * Relays a change of presence, and keeps track of which ids each peer controls. `origin` is the
   * peer it came from, REMOTE (another instance), null (a peer left) or 'timeout'. `arrived` is
   * the message, when it was one client's state applied as it came. Renewals wait (holdRenewals).
   */
  private presenceChanged({ added, updated, removed, renewed }: PresenceChange, origin: unknown, arrived: Uint8Array | null): void {
    const owned = this.peers.get(origin as Peer)
    if (owned) {
      let ids = owned
      for (const id of added) if (!ids.includes(id)) ids = ids.concat(id)
      for (const id of updated) if (!ids.includes(id)) ids = ids.concat(id)
      if (removed.length > 0) ids = ids.filter((id) => !removed.includes(id))
      if (ids !== owned) this.peers.set(origin as Peer, ids)
    }
    if (this.link && owned) {
      for (const id of added) this.remoteOwners.delete(id)
      for (const id of updated) this.remoteOwners.delete(id)
    }
    if (renewed.length > 0) this.holdRenewals(renewed, origin)
    const changes = renewed.length === 0 ? updated : updated.filter((id) => !renewed.includes(id))
    const changed = added.length + removed.length === 0 ? changes : added.concat(changes, removed)
    if (changed.length === 0) return
    // A change goes out now, with the state as it is now: any renewal of it held is sent with it.
    if (this.renewals !== null) for (const id of changed) this.renewals.delete(id)
    this.relayPresence(changed, origin, arrived)
    // Other instances hear of our peers' presence and of its removal when a peer leaves (origin
    // null); not of what they told us, nor of states each instance times out by itself.
    if (this.link && (owned || origin === null)) {
      this.link.publish({ kind: 'awareness', update: arrived ?? this.presence.encode(changed) })
    }
  }

  /**
   * Presence changes go to this instance's peers. They wait in the outbox behind the text they
   * point into, and go out with the turn's commit (or, with nothing to store, at the end of the
   * turn) merged with the turn's other changes (outbox.ts). While the store is failing, presence
   * goes on at once regardless: who is here should not freeze with it.
   */
  private relayPresence(ids: readonly number[], origin: unknown, arrived: Uint8Array | null): void {
    if (this.storeFailing) {
      this.outbox.unbatch(ids)
      this.deliver([{ frame: protocol.encodeAwareness(arrived ?? this.presence.encode(ids)), except: origin }])
    } else {
      this.outbox.batchPresence(ids, origin, arrived)
      this.scheduleCommit()
    }
  }

  /**
   * Holds renewals (a state sent again unchanged, with a newer clock) for up to
   * `renewalDelayMs`, then relays all that came meanwhile as one awareness update.
   *
   * Every stock client renews its state every 15-18 s, and a server that relays each renewal to
   * every other peer sends an idle room of N people N²/16 frames a second: 600 people cost a
   * quarter of a core and 20,000 frames a second doing nothing. Held, the same renewals cost a
   * frame per peer per delay. A renewal changes nothing anyone sees; it only keeps the state from
   * expiring, which a client does 30 s after the last one, so a delay of a second or two is safe.
   */
  private holdRenewals(ids: readonly number[], origin: unknown): void {
    const renewals = (this.renewals ??= new Map())
    for (const id of ids) renewals.set(id, origin)
    if (this.renewalTimer !== null) return
    this.renewalTimer = setTimeout(this.relayRenewals, this.options.renewalDelayMs ?? PRESENCE_RENEWAL_DELAY_MS)
    this.renewalTimer.unref()
  }

  private readonly relayRenewals = (): void => {
    this.renewalTimer = null
    const renewals = this.renewals
    this.renewals = null
    if (renewals === null || this.isDestroyed) return
    // Each is still present with the state it renewed: a change or removal since went out as
    // it came and took the id out of `renewals` (presenceChanged).
    const ids: number[] = []
    let local: number[] | null = null
    for (const [id, origin] of renewals) {
      ids.push(id)
      if (origin !== REMOTE) (local ??= []).push(id)
    }
    // One frame for every peer, its own renewal included: a client ignores a state of its own
    // whose clock it already has, and one frame shared by all is the cheapest to send.
    this.relayPresence(ids, RENEWAL, null)
    if (this.link && local !== null) this.link.publish({ kind: 'awareness', update: this.presence.encode(local) })
  }

  private sendWhenDurable(out: Frame): void {
    if (this.pending.length === 0 && !this.committing) this.deliver([out])
    else this.outbox.push(out)
  }

  /**
   * Sends a batch peer by peer: a peer gets all of its frames in one write, which leaves before
   * the next peer's frames are even framed. Frame by frame, the first reader of a keystroke would
   * wait until every reader had been sent it before anything left.
   *
   * Most peers of a batch get the same frames: all of them, in order. Only a few are exceptions:
   * the author of an update (not sent its own), a peer whose presence is in the batch, a peer a
   * reply is addressed to, a peer that is behind. Those are worked out frame by frame; every
   * other peer is handed one shared list without looking at the frames again, so that its
   * connection builds that write once for all of them. The list is never changed once handed
   * out: a send can re-enter deliver() (a reader closed for not reading leaves the room, which
   * broadcasts the removal of its presence). With 200 peers, a keystroke and its cursor cost
   * the room 11 µs instead of 23 µs (hot, in-memory peers); the readers at the end of the loop
   * wait for every step of it.
   */
  private deliver(outbox: readonly Outgoing[]): void {
    if (outbox.every(addressed)) {
      // Replies to one peer each (sync, saved): in order, no need to walk every peer per frame.
      for (const out of outbox) if (this.peers.has(out.to)) out.to.send(out.frame)
      return
    }
    const frames: (Frame | PresenceFrames)[] = []
    // What a peer that is no exception gets, and who the exceptions are.
    const common: Uint8Array[] = []
    const exceptions = new Set<unknown>()
    // The highest integration number among the updates: a peer that is behind may skip them.
    let updates = 0
    for (const out of outbox) {
      const ready = 'presence' in out ? this.outbox.presenceFrames(out, this.peers) : out
      if (ready === null) continue
      frames.push(ready)
      if ('all' in ready) {
        for (const origin of ready.own.keys()) exceptions.add(origin)
        common.push(ready.all.frame)
      } else if ('to' in ready) exceptions.add(ready.to)
      else {
        exceptions.add(ready.except)
        common.push(ready.frame)
        if (ready.n !== undefined) updates = ready.n
      }
    }
    const behind = updates > 0 ? this.behind : null
    for (const peer of this.peers.keys()) {
      if (exceptions.has(peer) || (behind !== null && behind.has(peer))) this.deliverTo(peer, frames)
      else if (common.length > 0) {
        sendAll(peer, common)
        if (updates > 0) this.checkBacklog(peer, updates)
      }
    }
  }

  /** Sends `peer` the frames of a batch that are for it, in one write. */
  private deliverTo(peer: Peer, frames: readonly (Frame | PresenceFrames)[]): void {
    const mine: Uint8Array[] = []
    let updates = 0
    for (const out of frames) {
      if ('all' in out) {
        const frame = out.own.has(peer) ? out.own.get(peer) : out.all
        if (frame) mine.push(frame.frame)
      } else if ('to' in out) {
        if (out.to === peer) mine.push(out.frame)
      } else if (peer !== out.except && !(out.n !== undefined && this.behind !== null && this.skips(peer, out.n))) {
        mine.push(out.frame)
        if (out.n !== undefined) updates = out.n
      }
    }
    if (mine.length === 0) return
    sendAll(peer, mine)
    if (updates > 0) this.checkBacklog(peer, updates)
  }

  /** After update `n` was sent: a peer with more queued than BEHIND_BYTES falls behind. */
  private checkBacklog(peer: Peer, n: number): void {
    if (peer.backlog !== undefined && peer.backlog > BEHIND_BYTES) this.fallBehind(peer, n)
  }

  /** Whether update `n` is left out for `peer`, because it is behind or its catch-up has it. */
  private skips(peer: Peer, n: number): boolean {
    const behind = this.behind!.get(peer)
    if (behind === undefined || n <= behind.from) return false
    if (behind.to === null || n <= behind.to) return true
    this.behind!.delete(peer)
    return false
  }

  /**
   * `peer` has more queued than it reads: from now on, updates the doc takes are not sent to it
   * one by one but as one diff against the doc's present state, once its queue has drained.
   * Updates already taken are still sent as they come (the state vector covers them).
   */
  private fallBehind(peer: Peer, n: number): void {
    const behind = this.behind?.get(peer)
    // Still behind, or still sending what the last catch-up left to the usual path.
    if (behind !== undefined && (behind.to === null || n <= behind.to)) return
    if (!peer.onceDrained) return
    ;(this.behind ??= new Map()).set(peer, { stateVector: this.content.stateVector(), from: this.integrated, to: null })
    peer.onceDrained(() => this.catchUpPeer(peer))
  }

  /**
   * The queue of a peer that was behind has drained: send it, as one update, everything the doc
   * took since it fell behind. Like a sync step 2, it is computed now and sent once what it
   * holds is stored.
   */
  private catchUpPeer(peer: Peer): void {
    const behind = this.behind?.get(peer)
    if (this.isDestroyed || behind === undefined || behind.to !== null || !this.peers.has(peer)) return
    behind.to = this.integrated
    if (behind.to === behind.from) return
    this.sendWhenDurable({ frame: protocol.encodeUpdate(this.content.diff(behind.stateVector)), to: peer })
  }

  private scheduleCommit(): void {
    if (this.commitScheduled || this.isDestroyed) return
    this.commitScheduled = true
    // One commit per event-loop turn: every message read in this turn joins the same batch.
    if (this.options.commits) this.options.commits.schedule(this)
    else setImmediate(() => this.commitNow())
  }

  /** The scheduled commit: called at the end of the turn (Committer). */
  commitNow(): void {
    this.commitScheduled = false
    this.onChain(() => this.commit(), true).catch(() => {
      // Logged in commit(); the batch is kept and retried.
    })
  }

  private enqueue(): Promise<void> {
    return this.onChain(() => this.commit())
  }

  /**
   * Runs `step` after every step before it. With `now` and nothing queued or running, it starts
   * in this call: the scheduled commit's store append then happens inside the turn's group
   * transaction, if any (commit-turn.ts).
   */
  private onChain(step: () => Promise<void>, now = false): Promise<void> {
    const idle = this.chained === 0
    this.chained++
    const run = () => step().finally(() => this.chained--)
    const next = now && idle ? run() : this.chain.catch(() => {}).then(run)
    this.chain = next
    return next
  }

  private async commit(): Promise<void> {
    if (this.isDestroyed) return
    if (this.pending.length === 0) {
      // Nothing uncommitted: frames that waited on an earlier commit can go now.
      this.deliver(this.outbox.take())
      return
    }
    const batch = this.pending
    const outbox = this.outbox.take()
    this.pending = []
    this.committing = true
    const started = performance.now()
    let last: number
    try {
      // What the doc holds of the store is all of it, unless other instances write too.
      const known = this.sequence.known
      last = this.store.appendNow?.(this.name, batch, known) ?? (await this.store.append(this.name, batch, known))
      this.options.onAppend?.((performance.now() - started) / 1000, true)
    } catch (err) {
      this.options.onAppend?.((performance.now() - started) / 1000, false)
      this.storeFailing = true
      // Nobody has seen these updates yet: keep them first in line and try again later.
      this.pending = batch.concat(this.pending)
      this.outbox.restore(outbox)
      this.log.error('store append failed; will retry', { room: this.name, updates: batch.length, err })
      this.scheduleRetry()
      throw err
    } finally {
      this.committing = false
    }
    this.storeFailing = false
    this.written = true
    this.tail += batch.length
    for (const update of batch) this.tailBytes += update.length
    const first = last - batch.length + 1
    this.sequence.add(first, last)
    this.link?.publish({ kind: 'updates', first, last, updates: batch })
    this.deliver(outbox)
    if (this.pending.length === 0) this.deliver(this.outbox.take())
    if (this.compactDue()) await this.compact()
  }

  /**
   * Whether the stored tail is long enough to fold into a snapshot: by rows
   * (COMPACT_AFTER_UPDATES), or by bytes, once it is a quarter of the snapshot (and at least
   * COMPACT_MIN_TAIL_BYTES). Updates that came together are stored as one row, so a few hundred
   * rows can hold a whole paste: the byte rule keeps what a load reads, and merges, within a
   * quarter more than the snapshot, at a cost of compactions proportional to what is written.
   */
  private compactDue(): boolean {
    return this.tail >= this.options.compactAfterUpdates || this.tailBytes >= Math.max(COMPACT_MIN_TAIL_BYTES, this.snapshotBytes / 4)
  }

  /** Folds the stored log into one snapshot so the next load reads one blob and a short tail. */
  private async compact(): Promise<void> {
    // Only what the doc is known to hold: with several instances writing, a higher sequence
    // number may belong to an update this room has not received yet.
    const upTo = this.sequence.known
    // The doc may also hold updates not yet appended; a snapshot with extra content is harmless
    // (they are appended later, and applying an update twice is a no-op in Yjs).
    const snapshot = this.content.encode()
    const tail = this.tail
    const tailBytes = this.tailBytes
    try {
      await this.store.compact(this.name, snapshot, upTo)
      this.tail -= tail
      this.tailBytes -= tailBytes
      this.snapshotBytes = snapshot.length
      this.approxBytes = snapshot.length
    } catch (err) {
      // The log is intact; the next commit tries again.
      this.log.warn('compaction failed', { room: this.name, err })
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.isDestroyed) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.scheduleCommit()
    }, this.options.retryDelayMs)
  }
}

/** What the doc integrated since `before` (a state vector), with its delete set. */
function takenSince(doc: Y.Doc, before: Map<number, number>): Uint8Array {
  return Y.encodeStateAsUpdate(doc, Y.encodeStateVector(before))
}

/** An update that cannot be applied closes its sender with 4422, saying why. */
function invalidUpdate(err: unknown): TandemError {
  return new TandemError('INVALID_UPDATE', `update could not be applied: ${(err as Error).message}`, { cause: err })
}

/** Sends frames in one write where the peer can (sendMany), else one by one. */
function sendAll(peer: Peer, frames: readonly Uint8Array[]): void {
  if (frames.length === 1) peer.send(frames[0]!)
  else if (peer.sendMany) peer.sendMany(frames)
  else for (const frame of frames) peer.send(frame)
}

function addressed(out: Outgoing): out is Extract<Outgoing, { to: Peer }> {
  return 'to' in out
}

function isDocUpdate(message: ClientMessage): message is Extract<ClientMessage, { kind: 'update' | 'sync-step2' }> {
  return message.kind === 'update' || message.kind === 'sync-step2'
}

/** How many ranges a delete set holds, merged or not: it grows when a transaction deletes. */
function countRanges(ds: Y.Transaction['deleteSet']): number {
  let n = 0
  for (const ranges of ds.clients.values()) n += ranges.length
  return n
}

/** Whether the store holds structs past the state vector `before`. */
function advanced(store: Y.Doc['store'], before: Map<number, number>): boolean {
  for (const client of store.clients.keys()) if (Y.getState(store, client) !== (before.get(client) ?? 0)) return true
  return false
}

function sameState(a: Map<number, number>, b: Map<number, number>): boolean {
  if (a.size !== b.size) return false
  for (const [client, clock] of a) if (b.get(client) !== clock) return false
  return true
}
