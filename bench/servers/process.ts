/**
 * A server under test as a child process: started on a port (0 = free) with its own data dir,
 * stopped with SIGTERM (SIGKILL after a deadline), restartable on the same port and data dir.
 * Every server runs with the probe preloaded and --expose-gc, so all are read the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ProbeReply, ProbeRequest } from './probe.js'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const PROBE = path.join(REPO, 'bench/tmp/servers/probe.js')
const RELAY_TRACE = path.join(REPO, 'bench/tmp/servers/relay-trace.js')

export interface LaunchSpec {
  /** The script to run with node (after tsx and the probe are imported). */
  readonly script: string
  /** Environment for this port and data dir. */
  env(port: number, dataDir: string): Record<string, string>
  /** The bound port, read from one line of the server's stdout. */
  readonly portLine: RegExp
}

export interface StopResult {
  readonly exitCode: number | null
  readonly signal: string | null
  /** True when SIGTERM did not end it within the deadline and it was killed. */
  readonly killed: boolean
  readonly ms: number
}

export class ServerProcess {
  readonly port: number
  readonly pid: number
  private readonly child: ChildProcess
  private readonly exited: Promise<{ code: number | null; signal: string | null }>
  private readonly output: string[]
  private nextProbeId = 1
  private readonly probeWaiters = new Map<number, (reply: ProbeReply) => void>()

  private constructor(child: ChildProcess, port: number, output: string[], exited: ServerProcess['exited']) {
    this.child = child
    this.pid = child.pid!
    this.port = port
    this.output = output
    this.exited = exited
    child.on('message', (raw: unknown) => {
      const reply = raw as ProbeReply
      const waiter = this.probeWaiters.get(reply.id)
      if (waiter) {
        this.probeWaiters.delete(reply.id)
        waiter(reply)
      }
    })
  }

  /**
   * `extraEnv` adds to the spec's settings (a cluster instance's store, channels and name);
   * `nodeFlags` are a scenario's flags for node, the same for every server.
   */
  static async start(
    spec: LaunchSpec,
    port: number,
    dataDir: string,
    extraEnv: Record<string, string> = {},
    nodeFlags: readonly string[] = [],
    timeoutMs = 20_000,
  ): Promise<ServerProcess> {
    // BENCH_SERVER_FLAGS adds node flags to every server, e.g. "--cpu-prof --cpu-prof-dir=bench/tmp/prof".
    const extra = process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? []
    // BENCH_RELAY_TRACE=<dir> times each server's relays from the inside (relay-trace.ts).
    if (process.env.BENCH_RELAY_TRACE) extra.push('--import', RELAY_TRACE)
    const child = spawn(process.execPath, [...nodeFlags, ...extra, '--expose-gc', '--import', PROBE, spec.script], {
      cwd: REPO,
      env: { ...process.env, ...spec.env(port, dataDir), ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    const output: string[] = []
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    )
    const keep = (chunk: Buffer) => {
      // Keep only the last lines, for error messages; the pipe must be drained either way.
      output.push(chunk.toString())
      if (output.length > 50) output.splice(0, output.length - 50)
    }
    child.stderr!.on('data', keep)
    // BENCH_SERVER_LOG=<dir> keeps each server's whole output, e.g. with BENCH_SERVER_FLAGS=--trace-gc.
    const logDir = process.env.BENCH_SERVER_LOG
    if (logDir) {
      fs.mkdirSync(logDir, { recursive: true })
      const file = fs.createWriteStream(path.join(logDir, `${path.basename(spec.script, '.ts')}-${port}-${child.pid}.log`))
      child.stdout!.pipe(file)
      child.stderr!.pipe(file)
    }
    const bound = await new Promise<number>((resolve, reject) => {
      let buffered = ''
      const timer = setTimeout(() => fail(new Error(`no port line within ${timeoutMs} ms`)), timeoutMs)
      const fail = (err: Error) => {
        clearTimeout(timer)
        child.kill('SIGKILL')
        reject(new Error(`${spec.script}: ${err.message}\n${output.join('').slice(-2000)}`))
      }
      const onData = (chunk: Buffer) => {
        keep(chunk)
        buffered += chunk.toString()
        const match = spec.portLine.exec(buffered)
        if (match) {
          clearTimeout(timer)
          resolve(Number(match[1]))
        }
      }
      child.stdout!.on('data', onData)
      void exited.then(({ code, signal }) => fail(new Error(`exited early (code ${code}, signal ${signal})`)))
    })
    return new ServerProcess(child, bound, output, exited)
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 15_000): Promise<StopResult> {
    const started = performance.now()
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return { exitCode: this.child.exitCode, signal: this.child.signalCode, killed: false, ms: 0 }
    }
    this.child.kill('SIGTERM')
    let killed = false
    const timer = setTimeout(() => {
      killed = true
      this.child.kill('SIGKILL')
    }, graceMs)
    const { code, signal } = await this.exited
    clearTimeout(timer)
    return { exitCode: code, signal, killed, ms: performance.now() - started }
  }

  kill(): void {
    this.child.kill('SIGKILL')
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  recentOutput(): string {
    return this.output.join('').slice(-2000)
  }

  /** Asks the preloaded probe; null when it does not answer within the timeout. */
  probe(op: ProbeRequest['op'], timeoutMs = 10_000): Promise<ProbeReply | null> {
    const id = this.nextProbeId++
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.probeWaiters.delete(id)
        resolve(null)
      }, timeoutMs)
      this.probeWaiters.set(id, (reply) => {
        clearTimeout(timer)
        resolve(reply)
      })
      this.child.send({ id, op } satisfies ProbeRequest)
    })
  }
}
