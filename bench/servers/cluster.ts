/**
 * The shared services of one cluster run: a Postgres schema and a Redis prefix of its own (so a
 * run never sees another's tables or messages, and the schema is dropped afterwards), the
 * settings that point every instance at them, and the CPU Postgres and Redis spend meanwhile.
 *
 * Their CPU is read like the servers': /proc/<pid>/stat. For Postgres, only this run's backends
 * count: the instances connect with PGAPPNAME set to the run's tag, and pg_stat_activity names
 * their pids. Postgres's shared background processes (WAL writer, checkpointer) are not counted.
 * Redis is one process for everyone on the machine: its whole CPU counts.
 */
import { Redis } from 'ioredis'
import pg from 'pg'
import { tryCpuMs } from '../metrics.js'
import { withTimeout } from '../load/wait.js'

export const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

const CONNECT_TIMEOUT_MS = 5_000

/** CPU counters at one moment; two of them make an interval (servicesDelta). */
export interface ServicesSample {
  /** CPU ms so far of each of this run's Postgres backends, by pid. */
  readonly postgres: ReadonlyMap<number, number>
  readonly redisMs: number
}

export interface ServicesCpu {
  readonly postgresMs: number
  readonly redisMs: number
  /** Backends that ended during the interval: their CPU in it is missing from postgresMs. */
  readonly postgresGone: number
}

let runs = 0

export class ClusterServices {
  readonly schema: string
  readonly redisPrefix: string
  /** application_name of the instances' Postgres connections. */
  readonly tag: string
  private readonly client: pg.Client
  private readonly redisPid: number | null

  private constructor(schema: string, client: pg.Client, redisPid: number | null) {
    this.schema = schema
    this.redisPrefix = `${schema}:`
    this.tag = schema
    this.client = client
    this.redisPid = redisPid
  }

  /** Checks both services answer (a clear error if not) and picks fresh names for this run. */
  static async open(): Promise<ClusterServices> {
    // Lower case, digits and _ only: Tandem's DATABASE_SCHEMA rule.
    const schema = `tandem_bench_${process.pid}_${++runs}_${Math.floor(Math.random() * 1e6)}`
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: CONNECT_TIMEOUT_MS })
    // A lost connection surfaces on the next query; unhandled, it would kill the harness.
    client.on('error', () => {})
    try {
      await client.connect()
    } catch (err) {
      throw new Error(`Postgres is not reachable at ${POSTGRES_URL} (BENCH_DATABASE_URL): ${(err as Error).message}`)
    }
    let redisPid: number | null
    try {
      redisPid = await redisProcessId()
    } catch (err) {
      await client.end().catch(() => {})
      throw new Error(`Redis is not reachable at ${REDIS_URL} (BENCH_REDIS_URL): ${(err as Error).message}`)
    }
    return new ClusterServices(schema, client, redisPid)
  }

  /** Settings for instance `index` (0-based): same store and channels, its own INSTANCE_ID. */
  env(index: number): Record<string, string> {
    return {
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: this.schema,
      REDIS_URL,
      REDIS_PREFIX: this.redisPrefix,
      INSTANCE_ID: `bench-${index + 1}`,
      // node-postgres reads it for every connection it opens: how this run's backends are found.
      PGAPPNAME: this.tag,
    }
  }

  async sample(): Promise<ServicesSample> {
    const { rows } = await this.client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [this.tag])
    const postgres = new Map<number, number>()
    for (const { pid } of rows) {
      // A backend may end between the query and the read: then it is simply not in the sample.
      const ms = tryCpuMs(pid)
      if (Number.isFinite(ms)) postgres.set(pid, ms)
    }
    return { postgres, redisMs: this.redisPid === null ? NaN : tryCpuMs(this.redisPid) }
  }

  /** Drops the schema; call once every instance has exited. */
  async close(): Promise<void> {
    try {
      await this.client.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`)
    } finally {
      await this.client.end().catch(() => {})
    }
  }
}

export function servicesDelta(before: ServicesSample, after: ServicesSample): ServicesCpu {
  let postgresMs = 0
  // A backend that appeared during the interval spent all its CPU in it.
  for (const [pid, ms] of after.postgres) postgresMs += ms - (before.postgres.get(pid) ?? 0)
  let postgresGone = 0
  for (const pid of before.postgres.keys()) if (!after.postgres.has(pid)) postgresGone++
  return { postgresMs, redisMs: after.redisMs - before.redisMs, postgresGone }
}

/** Redis's pid from INFO server, or null when it is not a process of this machine we can read. */
async function redisProcessId(): Promise<number | null> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: CONNECT_TIMEOUT_MS })
  redis.on('error', () => {})
  try {
    await withTimeout(redis.connect(), CONNECT_TIMEOUT_MS, 'connect')
    const info = await withTimeout(redis.info('server'), CONNECT_TIMEOUT_MS, 'INFO server')
    const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1])
    return Number.isInteger(pid) && Number.isFinite(tryCpuMs(pid)) ? pid : null
  } finally {
    redis.disconnect()
  }
}
