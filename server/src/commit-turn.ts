/**
 * Group commit across rooms: every room with something to store in one event-loop turn commits
 * in the same store transaction, when the store can group appends (SQLite).
 *
 * A room stores what it took in a turn as one append, and relays it only once that append is
 * durable. With many rooms busy at once, that was one transaction per room per turn, and with
 * SQLITE_SYNCHRONOUS=full one fsync each: 100 rooms written in one turn took 21-29 ms to store
 * and relay, against 4 ms as one transaction (with the default `normal`, about even). Each room
 * still learns of its own append's fate: a failed append rolls back only itself, a failed
 * commit fails every room in it, and each retries on its own (Room.commit).
 */
import type { Store } from './store/store.js'

/** A room, as the turn sees it: something that starts its commit when told. */
export interface Committer {
  /** Starts the commit (its store append, synchronously when nothing else is in flight). */
  commitNow(): void
}

export interface CommitTurnOptions {
  /**
   * Whether a read's room may commit at once on a quiet server (afterRead). For a store whose
   * commit costs no sync to disk: with SQLITE_SYNCHRONOUS=full, the first read of a burst would
   * cost one more fsync, which the reads after it in the same turn would wait for.
   */
  readonly eager?: boolean
  /** How long without a commit makes the server quiet (QUIET_MS); for tests. */
  readonly quietMs?: number
}

/**
 * A server that committed nothing for this long is taken to be quiet: a read then is very likely
 * the only one in its turn, and has no one to share a commit with.
 */
const QUIET_MS = 1

export class CommitTurn {
  private readonly store: Store
  private readonly eager: boolean
  private readonly quietMs: number
  private waiting: Committer[] = []
  private scheduled: NodeJS.Immediate | null = null
  /** When the last commit ran (performance.now()). */
  private lastRun = -Infinity

  constructor(store: Store, options: CommitTurnOptions = {}) {
    this.store = store
    this.eager = options.eager ?? false
    this.quietMs = options.quietMs ?? QUIET_MS
  }

  /** `room` commits at the end of this turn, with every other room that asks in it. */
  schedule(room: Committer): void {
    this.waiting.push(room)
    this.scheduled ??= setImmediate(this.run)
  }

  /**
   * Called once the messages of one socket read have been handled. On a quiet server the room
   * that read asked for commits now rather than at the end of the turn: between the two, Node's
   * stream bookkeeping and the event loop's phases cost a keystroke 45-70 µs (relay trace marks,
   * fan-out at 50 readers) on its way to its readers, for a commit it would share with nobody.
   * A busy server's rooms keep committing together.
   */
  afterRead(): void {
    if (!this.eager || this.waiting.length !== 1 || performance.now() - this.lastRun < this.quietMs) return
    clearImmediate(this.scheduled!)
    this.run()
  }

  private readonly run = (): void => {
    this.scheduled = null
    this.lastRun = performance.now()
    const rooms = this.waiting
    this.waiting = []
    const commitAll = () => {
      for (const room of rooms) room.commitNow()
    }
    if (rooms.length > 1 && this.store.group) this.store.group(commitAll)
    else commitAll()
  }
}
