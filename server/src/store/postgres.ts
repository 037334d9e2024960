/**
 * The shared Store for several Tandem instances: Postgres. Same contract as SQLite, plus what
 * concurrency between instances needs:
 *
 * - Sequence numbers come from a per-document counter row that each append updates in the same
 *   statement as its inserts. The row lock serialises appends to one document, so sequence order
 *   is commit order and a reader always sees a prefix of the log (never seq 11 without seq 10).
 * - Appends are group-committed across documents (see AppendBatcher): one statement, so one
 *   transaction and one commit, carries every append that arrived while the previous statements
 *   were in flight. Without it each room's append was its own commit and the pool queued.
 * - Compaction takes a per-document advisory lock, so two instances never compact one document
 *   at once (the loser skips). The caller passes only an `upTo` its snapshot really covers: the
 *   room uses the highest sequence number below which it has applied every update, whichever
 *   instance stored it.
 */
import pg from 'pg'
import type { Store, StoredDoc } from './store.js'

export interface PostgresOptions {
  readonly connectionString: string
  /** Schema for Tandem's tables, created when missing (lets tests and tenants share a database). */
  readonly schema: string
  readonly maxConnections: number
}

/** Bumped when the tables change; migrations run in order inside one locked transaction. */
const migrations: readonly string[] = [
  `CREATE TABLE tandem_docs (
     doc  text   PRIMARY KEY,
     seq  bigint NOT NULL
   );
   CREATE TABLE tandem_updates (
     doc  text   NOT NULL,
     seq  bigint NOT NULL,
     data bytea  NOT NULL,
     PRIMARY KEY (doc, seq)
   );
   CREATE TABLE tandem_snapshots (
     doc  text   PRIMARY KEY,
     seq  bigint NOT NULL,
     data bytea  NOT NULL
   );`,
]

// An arbitrary constant: the advisory lock key that serialises migrations across instances.
const MIGRATION_LOCK = 7_316_482_001

export class PostgresStore implements Store {
  private readonly pool: pg.Pool
  private readonly appends: AppendBatcher
  private closed = false

  private constructor(pool: pg.Pool) {
    this.pool = pool
    this.appends = new AppendBatcher(pool)
  }

  /** Connects, creates the schema and tables when missing, and migrates them to the latest form. */
  static async open(options: PostgresOptions): Promise<PostgresStore> {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new Error(`invalid schema name ${options.schema}`)
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections,
      // search_path per connection, so every query below names tables without a schema.
      options: `-c search_path=${options.schema}`,
    })
    // An idle client losing its server (Postgres restart) must not crash the process.
    pool.on('error', () => {})
    try {
      await migrate(pool, options.schema)
    } catch (err) {
      await pool.end()
      throw err
    }
    return new PostgresStore(pool)
  }

  async load(name: string): Promise<StoredDoc | null> {
    return this.loadAfter(name, 0)
  }

  /**
   * The updates after `seq`, preceded by the snapshot when it covers more than `seq` (then the
   * result is a superset, which is harmless: Yjs applies known updates as no-ops). One statement,
   * so snapshot and tail come from one consistent view.
   */
  async loadAfter(name: string, seq: number): Promise<StoredDoc | null> {
    const { rows } = await this.pool.query<{ kind: number; seq: string; data: Buffer }>(
      `SELECT 0 AS kind, seq, data FROM tandem_snapshots WHERE doc = $1 AND seq > $2
       UNION ALL
       SELECT 1 AS kind, u.seq, u.data FROM tandem_updates u
        WHERE u.doc = $1
          AND u.seq > GREATEST($2, COALESCE((SELECT s.seq FROM tandem_snapshots s WHERE s.doc = $1), 0))
       ORDER BY kind, seq`,
      [name, seq],
    )
    if (rows.length === 0) {
      if (seq > 0) return { updates: [], seq, tail: 0 }
      return null
    }
    const last = rows.at(-1)!
    return {
      updates: rows.map((r) => r.data),
      seq: Number(last.seq),
      tail: rows.filter((r) => r.kind === 1).length,
    }
  }

  /** Durable when it resolves; written together with other documents' appends (AppendBatcher). */
  append(name: string, updates: readonly Uint8Array[]): Promise<number> {
    if (updates.length === 0) return Promise.reject(new Error('append needs at least one update'))
    if (this.closed) return Promise.reject(new Error('store is closed'))
    return this.appends.add(name, updates)
  }

  async compact(name: string, snapshot: Uint8Array, upTo: number): Promise<void> {
    await transaction(this.pool, async (client) => {
      const lock = await client.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_xact_lock(hashtext('tandem:compact:' || $1)) AS ok",
        [name],
      )
      if (!lock.rows[0]?.ok) return // another instance is compacting this document right now
      const current = await client.query<{ seq: string }>('SELECT seq FROM tandem_snapshots WHERE doc = $1', [name])
      if (Number(current.rows[0]?.seq ?? 0) >= upTo) return
      const data = Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength)
      await client.query(
        `INSERT INTO tandem_snapshots AS s (doc, seq, data) VALUES ($1, $2, $3)
         ON CONFLICT (doc) DO UPDATE SET seq = EXCLUDED.seq, data = EXCLUDED.data WHERE s.seq < EXCLUDED.seq`,
        [name, upTo, data],
      )
      await client.query('DELETE FROM tandem_updates WHERE doc = $1 AND seq <= $2', [name, upTo])
    })
  }

  /** Round trip to the database, for /healthz. */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1')
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.appends.drain()
    await this.pool.end()
  }
}

/** One caller's append, waiting for (or in) a batch statement. */
interface PendingAppend {
  readonly doc: string
  readonly updates: readonly Uint8Array[]
  readonly bytes: number
  readonly resolve: (seq: number) => void
  readonly reject: (err: unknown) => void
}

/**
 * Limits of one batch statement and of how many run at once. Appends queue while
 * MAX_IN_FLIGHT statements are running and go out together in the next one, so the commit rate
 * stays near MAX_IN_FLIGHT per round trip whatever the number of rooms, and batches grow with
 * the load instead of the queue. More than one statement in flight, so one slow statement (a
 * big batch, a contended row) does not stall every room; few enough to leave most of the pool to
 * loads, catch-ups and compactions. The size bounds keep one statement's parameters, and the
 * time its row locks are held, moderate; an append larger than them goes alone.
 */
const MAX_IN_FLIGHT = 3
const MAX_BATCH_UPDATES = 1_000
const MAX_BATCH_BYTES = 4 * 1024 * 1024

/**
 * Group commit for PostgresStore.append. Every append of a batch is written by one statement:
 * the per-document counters are advanced by the batch's count for each document, then the
 * updates are inserted under the sequence numbers just reserved. A failed statement rolls back
 * whole and rejects every caller in it (rooms keep their updates and retry).
 */
class AppendBatcher {
  private readonly pool: pg.Pool
  private queue: PendingAppend[] = []
  private inFlight = 0
  private scheduled = false
  private idle: (() => void)[] = []

  constructor(pool: pg.Pool) {
    this.pool = pool
  }

  add(doc: string, updates: readonly Uint8Array[]): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const bytes = updates.reduce((sum, u) => sum + u.byteLength, 0)
      this.queue.push({ doc, updates, bytes, resolve, reject })
      // Start on the next turn rather than now, so the appends of this turn share a statement.
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => {
          this.scheduled = false
          this.pump()
        })
      }
    })
  }

  /** Resolves once every queued append has been written or has failed. */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0 && !this.scheduled) return Promise.resolve()
    return new Promise((resolve) => this.idle.push(resolve))
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      let count = 0
      let updates = 0
      let bytes = 0
      for (const p of this.queue) {
        if (count > 0 && (updates + p.updates.length > MAX_BATCH_UPDATES || bytes + p.bytes > MAX_BATCH_BYTES)) break
        count++
        updates += p.updates.length
        bytes += p.bytes
      }
      const batch = this.queue.slice(0, count)
      this.queue = this.queue.slice(count)
      this.inFlight++
      void this.write(batch).finally(() => {
        this.inFlight--
        this.pump()
        if (this.queue.length === 0 && this.inFlight === 0 && !this.scheduled) {
          for (const resolve of this.idle.splice(0)) resolve()
        }
      })
    }
  }

  private async write(batch: readonly PendingAppend[]): Promise<void> {
    // Each update's place among its document's updates in this batch, counted from the last
    // one (0) backwards, in call order: an append that came first gets the lower numbers.
    const counts = new Map<string, number>()
    for (const p of batch) counts.set(p.doc, (counts.get(p.doc) ?? 0) + p.updates.length)
    const seen = new Map<string, number>()
    const offsets: number[] = [] // per caller: offset of its last update
    const rows: { doc: string; offset: number; data: Buffer }[] = []
    for (const p of batch) {
      let before = seen.get(p.doc) ?? 0
      for (const u of p.updates) {
        before++
        rows.push({ doc: p.doc, offset: before - counts.get(p.doc)!, data: Buffer.from(u.buffer, u.byteOffset, u.byteLength) })
      }
      seen.set(p.doc, before)
      offsets.push(before - counts.get(p.doc)!)
    }
    // Counter rows are locked in the order of this array, which unnest preserves: sorted by
    // name, so two instances' batches lock shared documents in the same order and cannot
    // deadlock. (Compared by code unit, not collation: it only needs to be the same everywhere.)
    const docs = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    try {
      const { rows: seqs } = await this.pool.query<{ doc: string; seq: string }>(
        `WITH next AS (
           INSERT INTO tandem_docs AS d (doc, seq)
           SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT (doc) DO UPDATE SET seq = d.seq + EXCLUDED.seq
           RETURNING doc, seq
         ), inserted AS (
           INSERT INTO tandem_updates (doc, seq, data)
           SELECT u.doc, next.seq + u.back, u.data
             FROM unnest($3::text[], $4::bigint[], $5::bytea[]) AS u(doc, back, data)
             JOIN next USING (doc)
         )
         SELECT doc, seq FROM next`,
        [
          docs,
          docs.map((doc) => counts.get(doc)!),
          rows.map((r) => r.doc),
          rows.map((r) => r.offset),
          rows.map((r) => r.data),
        ],
      )
      const last = new Map(seqs.map((r) => [r.doc, Number(r.seq)]))
      batch.forEach((p, i) => p.resolve(last.get(p.doc)! + offsets[i]!))
    } catch (err) {
      for (const p of batch) p.reject(err)
    }
  }
}

function migrate(pool: pg.Pool, schema: string): Promise<void> {
  return transaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    await client.query('CREATE TABLE IF NOT EXISTS tandem_schema (version integer NOT NULL)')
    const { rows } = await client.query<{ version: number }>('SELECT version FROM tandem_schema')
    let version = rows[0]?.version ?? 0
    if (rows.length === 0) await client.query('INSERT INTO tandem_schema (version) VALUES (0)')
    for (; version < migrations.length; version++) await client.query(migrations[version]!)
    await client.query('UPDATE tandem_schema SET version = $1', [version])
  })
}

/** Runs `body` in one transaction on one pooled connection: committed if it returns, else rolled back. */
async function transaction(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await body(client)
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}
