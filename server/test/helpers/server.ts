/**
 * Real servers for tests: in-process (createServer on port 0, any Store) or as a child process
 * running server/src/main.ts (for signals and crashes): production's code and entry point, from
 * source through tsx (`npm start` runs it compiled, and the e2e suite runs that build).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig, type Config, type Env } from '../../src/config.js'
import { createLogger } from '../../src/log.js'
import { createServer, type TandemServer } from '../../src/server.js'
import { MemoryStore } from '../../src/store/memory.js'
import type { Store } from '../../src/store/store.js'
import type { Cleanup } from './cleanup.js'
import { within } from './wait.js'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

/** A config as main.ts would build it, for a test: port 0, loopback, quiet, plus overrides. */
export function testConfig(env: Env = {}): Config {
  return loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env }, { cwd: REPO_ROOT, repo: REPO_ROOT })
}

export interface TestServer {
  readonly server: TandemServer
  readonly store: Store
  readonly config: Config
  readonly port: number
  /** Base URL for stock providers: `${wsUrl}/${name}` is a document's socket. */
  readonly wsUrl: string
  readonly httpUrl: string
  /** Every log line the server wrote (all levels), for assertions and failure messages. */
  readonly logs: string[]
  /** Closes the server (idempotent); the store is closed by the cleanup that opened it. */
  close(): Promise<void>
}

export interface StartOptions {
  /** Defaults to a fresh MemoryStore, closed at teardown. */
  readonly store?: Store
  /** Environment overrides (HEARTBEAT_MS, MAX_MESSAGE_BYTES, ...). */
  readonly env?: Env
}

/** Starts createServer in this process on a free port; closed at teardown. */
export async function startServer(cleanup: Cleanup, options: StartOptions = {}): Promise<TestServer> {
  const store = options.store ?? new MemoryStore()
  if (!options.store) cleanup.add(() => store.close())
  const config = testConfig(options.env)
  const logs: string[] = []
  const echo = process.env['TEST_LOG'] === '1'
  const log = createLogger('debug', (line) => {
    logs.push(line)
    if (echo) process.stderr.write(`[server] ${line}\n`)
  })
  const server = createServer(config, { store, log })
  const address = await server.listen()
  let closed: Promise<void> | null = null
  const close = () => (closed ??= server.close())
  cleanup.add(close)
  return {
    server,
    store,
    config,
    port: address.port,
    wsUrl: `ws://127.0.0.1:${address.port}/ws`,
    httpUrl: `http://127.0.0.1:${address.port}`,
    logs,
    close,
  }
}

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface ChildServer {
  readonly child: ChildProcess
  readonly port: number
  readonly wsUrl: string
  readonly httpUrl: string
  readonly dataDir: string
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>
  /** Everything written to stderr so far (the server logs there). */
  stderr(): string
  stdout(): string
}

export interface SpawnOptions {
  readonly dataDir: string
  /** Listen on this port (a restart that existing clients reconnect to); default 0. */
  readonly port?: number
  readonly env?: Env
  readonly startTimeoutMs?: number
}

/** Environment for a child: ours, minus the test runner's markers, plus the given settings. */
export function childEnv(env: Env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env }
  delete out['NODE_TEST_CONTEXT']
  for (const [k, v] of Object.entries(env)) out[k] = v
  return out
}

/**
 * Runs `node --import tsx server/src/main.ts` and waits for its "Tandem listening on" line. The
 * process is SIGKILLed at teardown if still running.
 */
export async function spawnServer(cleanup: Cleanup, options: SpawnOptions): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: REPO_ROOT,
    env: childEnv({
      PORT: String(options.port ?? 0),
      HOST: '127.0.0.1',
      DATA_DIR: options.dataDir,
      LOG_LEVEL: 'info',
      ...options.env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    if (process.env['TEST_LOG'] === '1') process.stderr.write(`[child ${child.pid}] ${chunk}`)
  })
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  cleanup.add(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })

  const listening = new Promise<{ scheme: string; port: number }>((resolve, reject) => {
    const check = () => {
      const match = /Tandem listening on (https?):\/\/(?:localhost|127\.0\.0\.1|\[[^\]]+\]):(\d+)/.exec(stdout)
      if (match) {
        child.stdout!.off('data', check)
        resolve({ scheme: match[1]!, port: Number(match[2]) })
      }
    }
    child.stdout!.on('data', check)
    void exited.then((exit) =>
      reject(new Error(`server exited (code ${exit.code}, signal ${exit.signal}) before listening; stderr:\n${stderr}`)),
    )
  })
  const { scheme, port } = await within(listening, {
    timeoutMs: options.startTimeoutMs ?? 15_000,
    message: () => `server did not print its listening line; stdout:\n${stdout}\nstderr:\n${stderr}`,
  })
  return {
    child,
    port,
    // With TLS_CERT/TLS_KEY the server speaks https and wss.
    wsUrl: `${scheme === 'https' ? 'wss' : 'ws'}://127.0.0.1:${port}/ws`,
    httpUrl: `${scheme}://127.0.0.1:${port}`,
    dataDir: options.dataDir,
    exited,
    stderr: () => stderr,
    stdout: () => stdout,
  }
}

/** What a script printed and how it exited. */
export interface ScriptRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a TypeScript script of the repo (via tsx) with `env` until it exits by itself (15 s at most). */
export async function runToExit(cleanup: Cleanup, script: string, args: string[], env: NodeJS.ProcessEnv): Promise<ScriptRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  cleanup.add(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const code = await within(new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))), {
    timeoutMs: 15_000,
    message: () => `${script} did not exit; stdout:\n${stdout}\nstderr:\n${stderr}`,
  })
  return { code, stdout, stderr }
}
