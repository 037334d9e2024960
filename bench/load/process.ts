/** The harness's handle on a load process: start it, run a step with a deadline, end it. */
import { fork, type ChildProcess } from 'node:child_process'
import { LOAD_WORKER } from '../servers/build.js'
import { REPO } from '../servers/process.js'
import type { Load } from './roles.js'
import type { StepReply, StepRequest } from './worker.js'

type StepArgs<K extends keyof Load> = Load[K] extends (a: infer A) => unknown ? A : never
type StepResult<K extends keyof Load> = Load[K] extends (...a: never[]) => Promise<infer R> ? R : never

export class LoadProcess {
  private readonly child: ChildProcess
  private nextId = 1
  private readonly waiting = new Map<number, (reply: StepReply) => void>()
  private readonly exited: Promise<void>
  private stderr = ''

  /** `echo`: its y-websocket clients send back the states they apply (Params.echo). */
  constructor(lifetimeMs: number, echo = false) {
    this.child = fork(LOAD_WORKER, [], {
      cwd: REPO,
      execArgv: [],
      env: { ...process.env, BENCH_LOAD_LIFETIME_MS: String(lifetimeMs), BENCH_LOAD_ECHO: echo ? '1' : '' },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    })
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000)
    })
    this.child.on('message', (raw: unknown) => {
      const reply = raw as StepReply
      this.waiting.get(reply.id)?.(reply)
      this.waiting.delete(reply.id)
    })
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()))
    void this.exited.then(() => {
      for (const [id, resolve] of this.waiting) resolve({ id, ok: false, error: `load process exited\n${this.stderr}` })
      this.waiting.clear()
    })
  }

  get pid(): number {
    return this.child.pid!
  }

  /** Runs one step; rejects with its error, or after `timeoutMs` (the step keeps its own deadline too). */
  run<K extends keyof Load>(step: K, args: StepArgs<K>, timeoutMs: number): Promise<StepResult<K>> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id)
        reject(new Error(`${String(step)}: no answer within ${(timeoutMs / 1000).toFixed(0)} s`))
      }, timeoutMs)
      this.waiting.set(id, (reply) => {
        clearTimeout(timer)
        if (reply.ok) resolve(reply.result as StepResult<K>)
        else reject(new Error(`${String(step)}: ${reply.error}`))
      })
      this.child.send({ id, step: String(step), args } satisfies StepRequest)
    })
  }

  kill(): void {
    this.child.kill('SIGKILL')
  }

  /** Disconnects (the worker exits), SIGKILL if it is still there after a second. */
  async end(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    if (this.child.connected) this.child.disconnect()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000)
    await this.exited
    clearTimeout(timer)
  }
}
