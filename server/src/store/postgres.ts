/**
 * The shared Store for several Tandem instances: Postgres. Same contract as SQLite, plus what
 * concurrency between instances needs:
 *
 * - Sequence numbers come from a per-document counter row that each append updates in the same
 *   statement as its inserts. The row lock serialises appends to one document, so sequence order
 *   is commit order and a reader always sees a prefix of the log (never seq 11 without seq 10).
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
  private closed = false

  private constructor(pool: pg.Pool) {
    this.pool = pool
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

  async append(name: string, updates: readonly Uint8Array[]): Promise<number> {
    if (updates.length === 0) throw new Error('append needs at least one update')
    const { rows } = await this.pool.query<{ seq: string }>(
      `WITH next AS (
         INSERT INTO tandem_docs AS d (doc, seq) VALUES ($1, $2)
         ON CONFLICT (doc) DO UPDATE SET seq = d.seq + EXCLUDED.seq
         RETURNING seq
       )
       INSERT INTO tandem_updates (doc, seq, data)
       SELECT $1, next.seq - $2 + u.ord, u.data
         FROM next, unnest($3::bytea[]) WITH ORDINALITY AS u(data, ord)
       RETURNING seq`,
      [name, updates.length, updates.map((u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength))],
    )
    return Math.max(...rows.map((r) => Number(r.seq)))
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
    await this.pool.end()
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
