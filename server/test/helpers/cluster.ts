/**
 * Several Tandem processes (server/src/main.ts, production's entry point) sharing one Postgres
 * schema and one Redis prefix of their own, so concurrent tests never see each other's tables
 * or messages. The schema is dropped at teardown, after every process is gone.
 */
import type { Env } from '../../src/config.js'
import type { Cleanup } from './cleanup.js'
import { spawnServer, type ChildServer } from './server.js'
import { dropSchema, POSTGRES_URL, REDIS_URL, uniqueSchema } from './services.js'

export interface ClusterInstance extends ChildServer {
  /** Its INSTANCE_ID (node-1, node-2, ...): the `instance` label of its metrics. */
  readonly id: string
}

export interface Health {
  readonly status: number
  readonly body: { ok: boolean; instance: string; store: string; redis: string; rooms: number; connections: number }
}

export interface Cluster {
  readonly schema: string
  readonly instances: ClusterInstance[]
  /** Starts one more instance of the cluster (node-<n+1>). */
  add(env?: Env): Promise<ClusterInstance>
}

export interface ClusterOptions {
  /** Settings for every instance (CATCH_UP_MS, ...). */
  readonly env?: Env
  /** Defaults to the machine's Redis (REDIS_URL of services.ts). */
  readonly redisUrl?: string
}

/** Starts `n` instances in parallel (their start-up migrations share one advisory lock). */
export async function spawnCluster(cleanup: Cleanup, n: number, options: ClusterOptions = {}): Promise<Cluster> {
  const schema = uniqueSchema()
  // Registered first, so it runs last: after every instance below has been killed.
  cleanup.add(() => dropSchema(schema))
  const dataDir = cleanup.tempDir() // never written: the store is Postgres
  const instances: ClusterInstance[] = []
  const add = async (env: Env = {}): Promise<ClusterInstance> => {
    const id = `node-${instances.length + 1}`
    const slot = instances.length
    instances.push(null as unknown as ClusterInstance) // keep ids in order when started in parallel
    const child = await spawnServer(cleanup, {
      dataDir,
      env: {
        DATABASE_URL: POSTGRES_URL,
        DATABASE_SCHEMA: schema,
        REDIS_URL: options.redisUrl ?? REDIS_URL,
        REDIS_PREFIX: schema,
        INSTANCE_ID: id,
        ...options.env,
        ...env,
      },
    })
    const instance = { ...child, id }
    instances[slot] = instance
    return instance
  }
  await Promise.all(Array.from({ length: n }, () => add()))
  return { schema, instances, add }
}

export async function health(instance: ChildServer): Promise<Health> {
  const res = await fetch(`${instance.httpUrl}/healthz`)
  return { status: res.status, body: (await res.json()) as Health['body'] }
}

/** The document's text as an instance serves it, or null (404). */
export async function apiText(instance: ChildServer, name: string): Promise<string | null> {
  const res = await fetch(`${instance.httpUrl}/api/docs/${encodeURIComponent(name)}/text`)
  if (res.status === 404) return null
  if (!res.ok) throw new Error(`GET /api/docs/${name}/text on ${instance.httpUrl} answered ${res.status}`)
  return res.text()
}
