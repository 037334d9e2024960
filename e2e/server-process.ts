/**
 * The Tandem server as a child process for the e2e tests, run as `npm start` runs it (plain node
 * on dist/server, which test:e2e builds first): started on a port (0 = any free one)
 * over a data folder, killed with a chosen signal, restarted on the same port over the same data.
 * Its stderr is kept (across restarts) for the failure report.
 */
import { expect } from '@playwright/test'
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export interface TandemServer {
  /** `http://localhost:<port>` */
  readonly url: string
  readonly port: number
  readonly dataDir: string
  /** Whether the process is running. */
  readonly running: boolean
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Starts the server again on the same port over the same data, once `/healthz` answers. */
  restart(): Promise<void>
  /** Everything the server wrote to stderr so far, across restarts. */
  log(): string
}

const START_DEADLINE_MS = 20_000

export class ServerProcess implements TandemServer {
  readonly dataDir: string
  private readonly env: Record<string, string>
  private child: ChildProcess | null = null
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null })
  private logText = ''
  private boundPort = 0

  constructor(dataDir: string, env: Record<string, string>) {
    this.dataDir = dataDir
    this.env = env
  }

  get port(): number {
    return this.boundPort
  }

  get url(): string {
    return `http://localhost:${this.boundPort}`
  }

  get running(): boolean {
    return this.child !== null
  }

  log(): string {
    return this.logText
  }

  async start(port: number): Promise<void> {
    if (this.child) throw new Error('the server is already running')
    // Playwright's NODE_OPTIONS (its TypeScript loader) must not leak into the server.
    const { NODE_OPTIONS: _ignored, ...inherited } = process.env
    // The compiled server, as `npm start` runs it (test:e2e builds it first).
    const child = spawn(process.execPath, ['dist/server/main.js'], {
      cwd: repo,
      env: { ...inherited, HOST: 'localhost', LOG_LEVEL: 'debug', ...this.env, PORT: String(port), DATA_DIR: this.dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    // Should this worker die without tearing down, take the server with it.
    const orphanGuard = () => child.kill('SIGKILL')
    process.once('exit', orphanGuard)
    this.logText += `--- server starting (PORT=${port}) ---\n`
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (chunk: string) => {
      this.logText += chunk
    })
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        process.off('exit', orphanGuard)
        this.logText += `--- server exited (code=${code}, signal=${signal}) ---\n`
        if (this.child === child) this.child = null
        resolve({ code, signal })
      })
    })

    const listening = new Promise<number>((resolve, reject) => {
      let stdout = ''
      child.stdout!.setEncoding('utf8')
      child.stdout!.on('data', (chunk: string) => {
        stdout += chunk
        const match = /Tandem listening on http:\/\/[^\s:]+:(\d+)/.exec(stdout)
        if (match) resolve(Number(match[1]))
      })
      void this.exited.then(({ code, signal }) =>
        reject(new Error(`server exited before listening (code=${code}, signal=${signal}):\n${this.logText}`)),
      )
    })
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`server did not listen within ${START_DEADLINE_MS} ms:\n${this.logText}`)), START_DEADLINE_MS)
    })
    try {
      this.boundPort = await Promise.race([listening, deadline])
    } catch (err) {
      if (this.child === child) child.kill('SIGKILL')
      throw err
    } finally {
      clearTimeout(timer)
    }
    await expect
      .poll(() => fetch(`${this.url}/healthz`).then((r) => r.status, () => 0), {
        message: 'GET /healthz answers 200',
        timeout: START_DEADLINE_MS,
      })
      .toBe(200)
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child
    if (!child) throw new Error('the server is not running')
    child.kill(signal)
    return this.exited
  }

  async restart(): Promise<void> {
    if (this.child) throw new Error('restart() needs a stopped server: kill() it first')
    await this.start(this.boundPort)
  }

  async stop(): Promise<void> {
    if (this.child) await this.kill('SIGKILL')
  }
}
