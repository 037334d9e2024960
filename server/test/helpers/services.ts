/**
 * The real Postgres and Redis of this machine, for the tests that need them. Absent, those tests
 * skip with a loud message; with CI set they fail instead, because CI must run them.
 */
import { spawnSync } from 'node:child_process'
import net from 'node:net'
import pg from 'pg'
import { redisServerBinary } from './redis-server.js'
import type { TestContext } from './test.js'

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const probes = new Map<string, Promise<string | null>>()

/** Null when the service answers; otherwise why not. Probed once per process. */
function probe(name: string, check: () => Promise<void>): Promise<string | null> {
  let result = probes.get(name)
  if (!result) {
    result = check().then(
      () => null,
      (err: Error) => err.message || String(err),
    )
    probes.set(name, result)
  }
  return result
}

export function postgresProblem(): Promise<string | null> {
  return probe('postgres', async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 })
    try {
      await client.connect()
      await client.query('SELECT 1')
    } finally {
      await client.end().catch(() => {})
    }
  })
}

export function redisProblem(): Promise<string | null> {
  return probe('redis', () => {
    const url = new URL(REDIS_URL)
    return new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: url.hostname, port: Number(url.port || 6379) })
      const timer = setTimeout(() => socket.destroy(new Error('no answer within 2 s')), 2000)
      socket.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      socket.once('connect', () => socket.write('PING\r\n'))
      socket.once('data', (data) => {
        clearTimeout(timer)
        socket.destroy()
        if (data.toString().startsWith('+PONG')) resolve()
        else reject(new Error(`unexpected answer ${JSON.stringify(data.toString())}`))
      })
    })
  })
}

/** Null when a redis-server binary is on PATH (tests that stop and start their own Redis need it). */
export async function redisServerProblem(): Promise<string | null> {
  return redisServerBinary() === null ? 'no redis-server on PATH (apt-get install redis-server)' : null
}

/** Null when iproute2's `ss` is on PATH (it reads a listening socket's backlog). */
export async function ssProblem(): Promise<string | null> {
  return spawnSync('ss', ['-V'], { encoding: 'utf8' }).status === 0 ? null : 'no ss on PATH (apt-get install iproute2)'
}

export type Service = 'postgres' | 'redis' | 'redis-server' | 'ss'

const problems: Record<Service, () => Promise<string | null>> = {
  postgres: postgresProblem,
  redis: redisProblem,
  'redis-server': redisServerProblem,
  ss: ssProblem,
}

const places: Record<Service, string> = {
  postgres: `is not reachable at ${POSTGRES_URL}`,
  redis: `is not reachable at ${REDIS_URL}`,
  'redis-server': 'cannot be started',
  ss: 'cannot be run',
}

/**
 * Returns true when the test may go on. Otherwise skips it loudly, or fails it when CI is set.
 */
export async function needs(t: TestContext, services: readonly Service[]): Promise<boolean> {
  for (const service of services) {
    const problem = await problems[service]()
    if (problem === null) continue
    const message = `${service} ${places[service]} (${problem})`
    if (process.env.CI) throw new Error(`${message}: CI must run this test`)
    process.stderr.write(`\n!!! SKIPPED "${t.name}": ${message}\n`)
    t.skip(message)
    return false
  }
  return true
}

let schemas = 0

/** A schema name of its own for one test, so tests never see each other's tables. */
export function uniqueSchema(): string {
  return `tandem_test_${process.pid}_${++schemas}_${Math.floor(Math.random() * 1e6)}`
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  } finally {
    await client.end()
  }
}
