/**
 * A private redis-server for one test, on a free port, that the test may kill and start again on
 * the same port (a Redis outage), without disturbing the shared Redis other tests use.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import type { Cleanup } from './cleanup.js'
import { waitFor, within } from './wait.js'

/** The redis-server binary on PATH, or null. */
export function redisServerBinary(): string | null {
  const found = spawnSync('which', ['redis-server'], { encoding: 'utf8' })
  const path = found.status === 0 ? found.stdout.trim() : ''
  return path === '' ? null : path
}

/** A port nobody listens on right now (the kernel's choice for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Whether something on `port` answers PING with PONG. */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
  })
}

export class RedisServer {
  readonly port: number
  private readonly binary: string
  private child: ChildProcess | null = null
  private exited: Promise<void> = Promise.resolve()
  private output = ''

  private constructor(binary: string, port: number) {
    this.binary = binary
    this.port = port
  }

  /** Starts one on a free port; it is killed at teardown. */
  static async start(cleanup: Cleanup, binary: string): Promise<RedisServer> {
    const server = new RedisServer(binary, await freePort())
    cleanup.add(() => server.stop('SIGKILL'))
    await server.start()
    return server
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.child !== null
  }

  /** What redis-server printed, for failure messages. */
  log(): string {
    return this.output
  }

  /** Starts it (again) on its port and waits until it answers PING. */
  async start(): Promise<void> {
    if (this.child) throw new Error('redis-server is already running')
    // No persistence: a restart comes back empty, as Redis pub/sub does anyway.
    const child = spawn(this.binary, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    for (const stream of [child.stdout!, child.stderr!]) stream.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk))
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) this.child = null
        resolve()
      }),
    )
    await waitFor(async () => this.child === child && (await answersPing(this.port)), {
      timeoutMs: 10_000,
      message: () => `redis-server on ${this.port} did not answer PING; output:\n${this.output}`,
    })
  }

  /** Kills it (SIGKILL: an outage, not a shutdown) and waits until the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child
    if (!child) return
    child.kill(signal)
    await within(this.exited, { timeoutMs: 10_000, message: `redis-server did not exit on ${signal}` })
  }
}
