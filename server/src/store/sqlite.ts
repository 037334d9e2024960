/**
 * The default Store: one SQLite file in the data folder, in WAL mode. better-sqlite3 is
 * synchronous, so each call commits before it returns; the room batches a whole event-loop turn of
 * updates into one append, which keeps commits per second low under load (group commit).
 */
import fs from 'node:fs'
import path from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { Database } from '../commonjs.js'
import type { Store, StoredDoc } from './store.js'

export interface SqliteOptions {
  /** `normal` survives a process crash (WAL); `full` also survives power loss. */
  readonly synchronous: 'normal' | 'full'
}

const schema = `
  CREATE TABLE IF NOT EXISTS updates (
    doc  TEXT    NOT NULL,
    seq  INTEGER NOT NULL,
    data BLOB    NOT NULL,
    PRIMARY KEY (doc, seq)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS snapshots (
    doc  TEXT    NOT NULL PRIMARY KEY,
    seq  INTEGER NOT NULL,
    data BLOB    NOT NULL
  ) WITHOUT ROWID;
`

/**
 * Pages written since the last checkpoint, as the store estimates them, past which it copies the
 * WAL back into the database file between two event-loop turns.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past 1000 pages: the
 * commit of someone's keystroke, which then waited before it was relayed while 4 MB were copied
 * and synced (6-8 ms here, once every 800 single-keystroke commits; more on a slow disk). The
 * store runs it itself instead, in the turn after the one whose commit crossed this mark, once
 * that commit's updates have been relayed. As large as SQLite's: a checkpoint costs about 0.5 ms
 * and two fsyncs plus 7 µs a page here, and smaller, more frequent ones (256 pages) stalled a
 * server writing 500 rooms at once more in all (many-rooms p99 and event-loop lag up by a third
 * to a half, in runs interleaved with this size).
 */
const CHECKPOINT_PAGES = 1000

/**
 * SQLite's own automatic checkpoint, kept as a backstop far above CHECKPOINT_PAGES: for writes
 * the estimate misses, and for a single turn that writes more than 16 MB.
 */
const AUTOCHECKPOINT_PAGES = 4000

/** SQLite's page size, for the estimate. */
const PAGE_BYTES = 4096

export class SqliteStore implements Store {
  private readonly db: BetterSqlite3.Database
  private readonly stmt: ReturnType<typeof prepare>
  private readonly appendTx: (name: string, updates: readonly Uint8Array[], last: number | undefined) => number
  private readonly compactTx: (name: string, snapshot: Uint8Array, upTo: number) => void
  private readonly loadTx: (name: string, after: number) => StoredDoc | null
  private readonly groupTx: (appends: () => void) => void
  /** Inside group(): the appends made so far, waiting for its transaction to commit. */
  private grouped: Array<{ resolve: () => void; reject: (err: unknown) => void }> | null = null
  /** Pages written since the last checkpoint (estimated), and the checkpoint scheduled, if any. */
  private unchecked = 0
  private checkpointing: NodeJS.Immediate | null = null
  /** The WAL's file, for syncing it ahead of a checkpoint (see wrote); opened at the first one. */
  private readonly walFile: string
  private wal: number | null | undefined = undefined
  /** A sync of the WAL is running on libuv's thread pool; the checkpoint follows it. */
  private syncing = false

  /** Opens (creating when missing) `tandem.sqlite` in `dir`. */
  static open(dir: string, options: SqliteOptions): SqliteStore {
    fs.mkdirSync(dir, { recursive: true })
    return new SqliteStore(path.join(dir, 'tandem.sqlite'), options)
  }

  constructor(file: string, options: SqliteOptions) {
    this.db = new Database(file)
    this.walFile = `${file}-wal`
    // Compaction frees most of what a busy document wrote since the last one; with incremental
    // auto-vacuum the file gives it back (see compact) instead of keeping its largest size for
    // ever. It can only be chosen before the first table exists, so a file made by an older
    // Tandem keeps reusing its free pages instead (`VACUUM` converts it).
    this.db.pragma('auto_vacuum = INCREMENTAL')
    this.db.pragma('journal_mode = WAL')
    this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
    // Another process holding the file (a second server on the same DATA_DIR) waits, not fails.
    this.db.pragma('busy_timeout = 5000')
    this.db.exec(schema)
    const stmt = (this.stmt = prepare(this.db))

    // Inside group()'s transaction, better-sqlite3 runs this one as a savepoint: a failed append
    // rolls back only itself.
    this.appendTx = this.db.transaction((name: string, updates: readonly Uint8Array[], last: number | undefined) =>
      this.insert(name, updates, last ?? lastSeq(stmt, name)),
    )

    // Both steps in one transaction; each is also safe alone: a snapshot with a higher seq makes
    // load() skip the old updates, and deleting updates already in a snapshot loses nothing.
    this.compactTx = this.db.transaction((name: string, snapshot: Uint8Array, upTo: number) => {
      const current = stmt.snapshotSeq.get(name) as { seq: number } | undefined
      if (current && current.seq >= upTo) return
      stmt.putSnapshot.run(name, upTo, snapshot)
      stmt.deleteUpTo.run(name, upTo)
      // The snapshot's pages, and about as many freed by the delete and moved by the vacuum.
      this.wrote(2 + (2 * snapshot.length) / PAGE_BYTES)
    })

    this.groupTx = this.db.transaction((appends: () => void) => appends())

    // A read transaction so the snapshot and the tail come from one consistent state.
    this.loadTx = this.db.transaction((name: string, after: number): StoredDoc | null => {
      const stored = stmt.snapshot.get(name) as { seq: number; data: Buffer } | undefined
      const snapshot = stored && stored.seq > after ? stored : undefined
      const rows = stmt.tail.all(name, Math.max(after, stored?.seq ?? 0)) as Array<{ seq: number; data: Buffer }>
      if (!snapshot && rows.length === 0) return after > 0 ? { updates: [], seq: after, tail: 0 } : null
      const updates: Uint8Array[] = rows.map((r) => r.data)
      if (snapshot) updates.unshift(snapshot.data)
      return { updates, seq: rows.at(-1)?.seq ?? snapshot?.seq ?? after, tail: rows.length }
    })
  }

  async load(name: string): Promise<StoredDoc | null> {
    return this.loadTx(name, 0)
  }

  async loadAfter(name: string, seq: number): Promise<StoredDoc | null> {
    return this.loadTx(name, seq)
  }

  async append(name: string, updates: readonly Uint8Array[], believed?: number): Promise<number> {
    const last = this.appendSync(name, updates, believed)
    // Inside group(), the rows are durable only once its transaction commits.
    const group = this.grouped
    if (group) await new Promise<void>((resolve, reject) => group.push({ resolve, reject }))
    return last
  }

  /** Outside group(), every append is committed when it returns. */
  appendNow(name: string, updates: readonly Uint8Array[], believed?: number): number | null {
    return this.grouped ? null : this.appendSync(name, updates, believed)
  }

  private appendSync(name: string, updates: readonly Uint8Array[], believed: number | undefined): number {
    let last: number
    try {
      // With the room's number there is no `SELECT max(seq)` (46 µs of a keystroke's commit,
      // cold, in the fan-out), and one update is one statement, which SQLite makes a transaction
      // of by itself (or which joins group()'s): no BEGIN and COMMIT statements around it.
      last = believed !== undefined && updates.length === 1 ? this.insert(name, updates, believed) : this.appendTx(name, updates, believed)
    } catch (err) {
      // Behind: another process appended to this document (the primary key refused the number,
      // and the failed append rolled back by itself). Read the number after all.
      if (believed === undefined || (err as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw err
      last = this.appendTx(name, updates, undefined)
    }
    return last
  }

  /** Inserts `updates` numbered after `last`, in whatever transaction the caller has. */
  private insert(name: string, updates: readonly Uint8Array[], last: number): number {
    let seq = last
    let bytes = 0
    for (const data of updates) {
      this.stmt.insertUpdate.run(name, ++seq, data)
      bytes += data.length
    }
    // The leaf and the auto-vacuum pointer map, more as rows fill and split pages (measured: 1.4
    // pages a commit for keystrokes, 3 for rows of 900 bytes).
    this.wrote(2 + (2 * bytes) / PAGE_BYTES)
    return seq
  }

  group(appends: () => void): void {
    const waiting: NonNullable<typeof this.grouped> = []
    this.grouped = waiting
    try {
      this.groupTx(appends)
    } catch (err) {
      for (const append of waiting) append.reject(err)
      return
    } finally {
      this.grouped = null
    }
    for (const append of waiting) append.resolve()
  }

  async compact(name: string, snapshot: Uint8Array, upTo: number): Promise<void> {
    this.compactTx(name, snapshot, upTo)
    // Its own transaction: truncates the pages the compaction freed (a no-op without auto-vacuum).
    // exec, not a prepared statement: each step of this pragma frees one page.
    this.db.exec('PRAGMA incremental_vacuum')
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get()
  }

  async close(): Promise<void> {
    if (this.checkpointing) clearImmediate(this.checkpointing)
    this.checkpointing = null
    // A sync in flight still holds the descriptor: its callback closes it.
    if (!this.syncing) this.closeWal()
    // Closing the last connection checkpoints the whole WAL and deletes it.
    if (this.db.open) this.db.close()
  }

  /**
   * Counts pages toward the next checkpoint, and starts it once they pass CHECKPOINT_PAGES: a
   * sync of the WAL on the thread pool, then the checkpoint in its callback (or, where the WAL
   * cannot be opened, in a setImmediate). Called inside a write, in the turn's commit; either
   * way the checkpoint runs in a later turn, after this one's commits have been relayed.
   */
  private wrote(pages: number): void {
    this.unchecked += pages
    if (this.unchecked < CHECKPOINT_PAGES || this.checkpointing || this.syncing) return
    const wal = this.openWal()
    if (wal === null) {
      this.checkpointing = setImmediate(this.checkpoint)
      return
    }
    // The checkpoint syncs the WAL before it copies it back, and that sync was most of what it
    // held the event loop for: 8-12 ms for 1,000 pages on this project's test machine, against
    // 1-3 ms with the pages already synced. Synced first on the thread pool, the checkpoint's
    // own sync has only what was written since. Its callback comes in a later turn, after this
    // one's commits have been relayed. Should the sync fail, SQLite's own still decides.
    this.syncing = true
    fs.fdatasync(wal, () => {
      this.syncing = false
      if (this.db.open) this.checkpoint()
      else this.closeWal()
    })
  }

  /** The WAL, opened for reading (a sync needs no more); null where it cannot be opened. */
  private openWal(): number | null {
    if (this.wal === undefined) {
      try {
        this.wal = fs.openSync(this.walFile, 'r')
      } catch {
        this.wal = null
      }
    }
    return this.wal
  }

  private closeWal(): void {
    if (typeof this.wal === 'number') fs.closeSync(this.wal)
    this.wal = null
  }

  private readonly checkpoint = (): void => {
    this.checkpointing = null
    this.unchecked = 0
    if (!this.db.open) return
    try {
      // PASSIVE: copies what no reader still needs and never waits for one (another process
      // reading the file); what it leaves, the next checkpoint copies.
      this.db.pragma('wal_checkpoint(PASSIVE)')
    } catch {
      // Nothing is lost: every commit is in the WAL, and the next checkpoint (or SQLite's own,
      // at AUTOCHECKPOINT_PAGES) copies it. A failing disk shows in the next append instead.
    }
  }
}

function prepare(db: BetterSqlite3.Database) {
  return {
    insertUpdate: db.prepare('INSERT INTO updates (doc, seq, data) VALUES (?, ?, ?)'),
    maxUpdateSeq: db.prepare('SELECT max(seq) AS seq FROM updates WHERE doc = ?'),
    snapshotSeq: db.prepare('SELECT seq FROM snapshots WHERE doc = ?'),
    snapshot: db.prepare('SELECT seq, data FROM snapshots WHERE doc = ?'),
    tail: db.prepare('SELECT seq, data FROM updates WHERE doc = ? AND seq > ? ORDER BY seq'),
    putSnapshot: db.prepare('INSERT OR REPLACE INTO snapshots (doc, seq, data) VALUES (?, ?, ?)'),
    deleteUpTo: db.prepare('DELETE FROM updates WHERE doc = ? AND seq <= ?'),
  }
}

function lastSeq(stmt: ReturnType<typeof prepare>, name: string): number {
  const update = stmt.maxUpdateSeq.get(name) as { seq: number | null }
  if (update.seq !== null) return update.seq
  const snapshot = stmt.snapshotSeq.get(name) as { seq: number } | undefined
  return snapshot?.seq ?? 0
}
