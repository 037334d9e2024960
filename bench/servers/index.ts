/**
 * The servers under test: how each is launched, and where its clients connect. All listen on
 * 127.0.0.1 with their default durability settings. The default run compares the three servers;
 * the cluster entries (Tandem on Postgres + Redis, one instance or two) are chosen by name, and
 * `tandem-base` (Tandem at another commit) comes with --baseline.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SERVER_ENTRY } from '../../scripts/server-build.js'
import { BASELINE_ENTRY } from './baseline.js'
import { compiled } from './build.js'
import { ClusterServices, type ServicesSample } from './cluster.js'
import type { ProbeReply, ProbeRequest } from './probe.js'
import { REPO, ServerProcess, type LaunchSpec, type StopResult } from './process.js'

export const SERVER_NAMES = ['tandem', 'ywebsocket', 'hocuspocus', 'tandem-pg', 'tandem-cluster', 'tandem-base'] as const
export type ServerName = (typeof SERVER_NAMES)[number]
/** What `npm run bench` runs without --servers. */
export const DEFAULT_SERVERS: readonly ServerName[] = ['tandem', 'ywebsocket', 'hocuspocus']

/** Which client library speaks to it: stock y-websocket protocol, or Hocuspocus's own. */
export type ClientKind = 'y-websocket' | 'hocuspocus'

export interface ServerDef {
  readonly name: ServerName
  readonly label: string
  /** For ratio headings ("y-websocket / Tandem"). */
  readonly short: string
  readonly client: ClientKind
  readonly launch: LaunchSpec
  /**
   * Set for Tandem on a shared Postgres + Redis: that many instances, with a fresh schema and
   * Redis prefix per run. Null for a single process on its own data dir.
   */
  readonly cluster: { readonly instances: number } | null
  /** The base URL a client is given; the room name is appended by the client library. */
  url(port: number): string
}

const HOST = '127.0.0.1'

/**
 * Every load client comes from 127.0.0.1, so Tandem's per-address and per-connection abuse limits
 * (100 sockets per address, 300 connects a minute, 300 messages/s and 1 MiB/s per socket) would
 * refuse the scenarios themselves; the peers have no such limits. Only those are lifted. Storage
 * and durability settings stay at their defaults (SQLite, WAL, synchronous=normal, store before
 * relay).
 */
export const TANDEM_LOOPBACK_LIMITS = {
  MAX_CONNECTIONS_PER_IP: '1000000',
  MAX_CONNECTS_PER_MINUTE: '1000000',
  MESSAGES_PER_SECOND: '1000000',
  BYTES_PER_SECOND: String(2 ** 40),
} as const

const TANDEM_LAUNCH: LaunchSpec = {
  script: SERVER_ENTRY,
  // With a cluster's DATABASE_URL (added per run) the data dir is never written.
  env: (port, dataDir) => ({ PORT: String(port), HOST, DATA_DIR: dataDir, ...TANDEM_LOOPBACK_LIMITS }),
  portLine: /Tandem listening on http:\/\/[^:]+:(\d+)/,
}
const tandemUrl = (port: number) => `ws://${HOST}:${port}/ws`

export const SERVERS: Record<ServerName, ServerDef> = {
  tandem: {
    name: 'tandem',
    label: 'Tandem (SQLite)',
    short: 'Tandem',
    client: 'y-websocket',
    launch: TANDEM_LAUNCH,
    cluster: null,
    url: tandemUrl,
  },
  ywebsocket: {
    name: 'ywebsocket',
    label: 'y-websocket server 0.1.1 (LevelDB)',
    short: 'y-websocket',
    client: 'y-websocket',
    cluster: null,
    launch: {
      script: compiled('ywebsocket-main.ts'),
      env: (port, dataDir) => ({ PORT: String(port), HOST, YPERSISTENCE: path.join(dataDir, 'leveldb') }),
      portLine: /listening on port (\d+)/,
    },
    url: (port) => `ws://${HOST}:${port}`,
  },
  hocuspocus: {
    name: 'hocuspocus',
    label: 'Hocuspocus 4.7 (SQLite)',
    short: 'Hocuspocus',
    client: 'hocuspocus',
    cluster: null,
    launch: {
      script: compiled('hocuspocus-main.ts'),
      env: (port, dataDir) => ({ PORT: String(port), HOST, DATA_DIR: dataDir }),
      portLine: /listening on port (\d+)/,
    },
    url: (port) => `ws://${HOST}:${port}`,
  },
  // Built by --baseline (baseline.ts); otherwise absent.
  'tandem-base': {
    name: 'tandem-base',
    label: 'Tandem baseline (SQLite)',
    short: 'Baseline',
    client: 'y-websocket',
    launch: { ...TANDEM_LAUNCH, script: BASELINE_ENTRY },
    cluster: null,
    url: tandemUrl,
  },
  // The same store and fan-out path as the cluster below, on one instance: the fair "one".
  'tandem-pg': {
    name: 'tandem-pg',
    label: 'Tandem, 1 instance (Postgres + Redis)',
    short: 'Tandem 1x',
    client: 'y-websocket',
    launch: TANDEM_LAUNCH,
    cluster: { instances: 1 },
    url: tandemUrl,
  },
  'tandem-cluster': {
    name: 'tandem-cluster',
    label: 'Tandem, 2 instances (Postgres + Redis)',
    short: 'Tandem 2x',
    client: 'y-websocket',
    launch: TANDEM_LAUNCH,
    cluster: { instances: 2 },
    url: tandemUrl,
  },
}

/**
 * One server with its data dir, across restarts on the same ports: one process, or for a cluster
 * entry several instances sharing this run's Postgres schema and Redis prefix.
 */
export class ServerUnderTest {
  readonly def: ServerDef
  readonly dataDir: string
  /** The cluster's Postgres + Redis for this run; null for a server on its own data dir. */
  private readonly services: ClusterServices | null
  private current: ServerProcess[] = []
  private readonly ports: number[]
  private readonly nodeFlags: readonly string[]

  private constructor(def: ServerDef, dataDir: string, services: ClusterServices | null, nodeFlags: readonly string[]) {
    this.def = def
    this.dataDir = dataDir
    this.services = services
    this.nodeFlags = nodeFlags
    this.ports = Array<number>(def.cluster?.instances ?? 1).fill(0)
  }

  /** `nodeFlags` go to node for every process of this server, restarts included. */
  static async start(def: ServerDef, tmpRoot: string, nodeFlags: readonly string[] = []): Promise<ServerUnderTest> {
    fs.mkdirSync(tmpRoot, { recursive: true })
    const dataDir = fs.mkdtempSync(path.join(tmpRoot, `${def.name}-`))
    let services: ClusterServices | null = null
    try {
      if (def.cluster) services = await ClusterServices.open()
    } catch (err) {
      fs.rmSync(dataDir, { recursive: true, force: true })
      throw err
    }
    const server = new ServerUnderTest(def, dataDir, services, nodeFlags)
    try {
      await server.launch()
    } catch (err) {
      await server.dispose()
      throw err
    }
    return server
  }

  /** Every running process: one, or one per instance (instance A first). */
  get processes(): readonly ServerProcess[] {
    if (this.current.length === 0) throw new Error(`${this.def.name} is not running`)
    return this.current
  }

  get pids(): number[] {
    return this.processes.map((p) => p.pid)
  }

  /** One client URL per instance, in instance order. */
  get urls(): string[] {
    return this.ports.map((port) => this.def.url(port))
  }

  /**
   * One at a time: the first instance creates the schema (under Tandem's migration lock anyway),
   * and a failed start leaves nothing half-started behind.
   */
  private async launch(): Promise<void> {
    for (let i = 0; i < this.ports.length; i++) {
      const proc = await ServerProcess.start(this.def.launch, this.ports[i]!, this.dataDir, this.services?.env(i) ?? {}, this.nodeFlags)
      this.current.push(proc)
      this.ports[i] = proc.port
    }
  }

  /** Stops every process (SIGTERM, then SIGKILL after `graceMs`); the result of the slowest, killed if any was. */
  async stop(graceMs?: number): Promise<StopResult | null> {
    const procs = this.current
    this.current = []
    if (procs.length === 0) return null
    const results = await Promise.all(procs.map((p) => p.stop(graceMs)))
    return results.reduce((a, b) => ({ ...(b.ms > a.ms ? b : a), killed: a.killed || b.killed }))
  }

  /** Stops (SIGTERM) and starts fresh processes on the same ports and data. */
  async restart(): Promise<StopResult | null> {
    const stopped = await this.stop()
    await this.launch()
    return stopped
  }

  /** SIGKILL, for a run that overran its limit. */
  kill(): void {
    for (const p of this.current) p.kill()
  }

  /** Asks every process's probe; null for one that did not answer in time. */
  probe(op: ProbeRequest['op']): Promise<Array<ProbeReply | null>> {
    return Promise.all(this.processes.map((p) => p.probe(op)))
  }

  /** CPU counters of Postgres and Redis, or null when this server does not use them. */
  async servicesSample(): Promise<ServicesSample | null> {
    return this.services ? this.services.sample() : null
  }

  /** Stops the processes if still running, deletes the data dir and drops the cluster's schema. */
  async dispose(): Promise<void> {
    await this.stop().catch(() => null)
    fs.rmSync(this.dataDir, { recursive: true, force: true })
    await this.services?.close()
  }
}

export function defaultTmpRoot(): string {
  return path.join(os.tmpdir(), `tandem-bench-${process.pid}`)
}
