/**
 * The three servers under test: how each is launched, and where its clients connect.
 * All listen on 127.0.0.1 with their default durability settings.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { REPO, ServerProcess, type LaunchSpec, type StopResult } from './process.js'

export const SERVER_NAMES = ['tandem', 'ywebsocket', 'hocuspocus'] as const
export type ServerName = (typeof SERVER_NAMES)[number]

/** Which client library speaks to it: stock y-websocket protocol, or Hocuspocus's own. */
export type ClientKind = 'y-websocket' | 'hocuspocus'

export interface ServerDef {
  readonly name: ServerName
  readonly label: string
  readonly client: ClientKind
  readonly launch: LaunchSpec
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

export const SERVERS: Record<ServerName, ServerDef> = {
  tandem: {
    name: 'tandem',
    label: 'Tandem (SQLite)',
    client: 'y-websocket',
    launch: {
      script: path.join(REPO, 'server/src/main.ts'),
      env: (port, dataDir) => ({ PORT: String(port), HOST, DATA_DIR: dataDir, ...TANDEM_LOOPBACK_LIMITS }),
      portLine: /Tandem listening on http:\/\/[^:]+:(\d+)/,
    },
    url: (port) => `ws://${HOST}:${port}/ws`,
  },
  ywebsocket: {
    name: 'ywebsocket',
    label: 'y-websocket server 0.1.1 (LevelDB)',
    client: 'y-websocket',
    launch: {
      script: path.join(REPO, 'bench/servers/ywebsocket-main.ts'),
      env: (port, dataDir) => ({ PORT: String(port), HOST, YPERSISTENCE: path.join(dataDir, 'leveldb') }),
      portLine: /listening on port (\d+)/,
    },
    url: (port) => `ws://${HOST}:${port}`,
  },
  hocuspocus: {
    name: 'hocuspocus',
    label: 'Hocuspocus 4.7 (SQLite)',
    client: 'hocuspocus',
    launch: {
      script: path.join(REPO, 'bench/servers/hocuspocus-main.ts'),
      env: (port, dataDir) => ({ PORT: String(port), HOST, DATA_DIR: dataDir }),
      portLine: /listening on port (\d+)/,
    },
    url: (port) => `ws://${HOST}:${port}`,
  },
}

/** One server with its data dir, across restarts on the same port. */
export class ServerUnderTest {
  readonly def: ServerDef
  readonly dataDir: string
  private current: ServerProcess | null = null
  private boundPort = 0

  private constructor(def: ServerDef, dataDir: string) {
    this.def = def
    this.dataDir = dataDir
  }

  static async start(def: ServerDef, tmpRoot: string): Promise<ServerUnderTest> {
    fs.mkdirSync(tmpRoot, { recursive: true })
    const dataDir = fs.mkdtempSync(path.join(tmpRoot, `${def.name}-`))
    const server = new ServerUnderTest(def, dataDir)
    await server.launch(0)
    return server
  }

  get process(): ServerProcess {
    if (!this.current) throw new Error(`${this.def.name} is not running`)
    return this.current
  }

  get url(): string {
    return this.def.url(this.boundPort)
  }

  private async launch(port: number): Promise<void> {
    this.current = await ServerProcess.start(this.def.launch, port, this.dataDir)
    this.boundPort = this.current.port
  }

  async stop(): Promise<StopResult | null> {
    const proc = this.current
    this.current = null
    return proc ? proc.stop() : null
  }

  /** Stops (SIGTERM) and starts a fresh process on the same port and data dir. */
  async restart(): Promise<StopResult | null> {
    const stopped = await this.stop()
    await this.launch(this.boundPort)
    return stopped
  }

  /** SIGKILL, for a run that overran its limit. */
  kill(): void {
    this.current?.kill()
  }

  /** Stops the process if still running and deletes the data dir. */
  async dispose(): Promise<void> {
    await this.stop().catch(() => null)
    fs.rmSync(this.dataDir, { recursive: true, force: true })
  }
}

export function defaultTmpRoot(): string {
  return path.join(os.tmpdir(), `tandem-bench-${process.pid}`)
}
