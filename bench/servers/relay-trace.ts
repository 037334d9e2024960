/**
 * Preloaded into a server under test when BENCH_RELAY_TRACE=<dir> is set (process.ts), the
 * same for every server: where the time goes between reading a keystroke and writing it to
 * the readers, measured inside the server, without the load processes' own delays.
 *
 * It wraps net.Socket's emit ('data') and write. A burst starts with the first read after
 * QUIET_MS without reads or writes (in the fan-out, the typist's keystroke: nothing else
 * happens between two), and holds the times of every read and write until the next quiet, in
 * ms after its first read, and the process's CPU time at each write: on 2 cores shared with
 * the load processes, a server is also off its core while a reader it has just woken runs. Code under study can add its own steps for a run with
 * `(globalThis as any).__relayMark?.('name')` (first occurrence per burst). Every second the
 * bursts so far go to <dir>/<pid>.json: servers that end on SIGTERM without a handler of their
 * own (the reference server) would not run an exit hook. `bench/relay-trace.ts` summarises.
 *
 * Diagnostic only: the wrapping costs every read and write a clock reading.
 */
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

const QUIET_MS = 10

interface Burst {
  readonly t0: number
  /** The process's CPU time at the first read. */
  readonly cpu0: number
  reads: number
  readonly writes: number[]
  /** The process's CPU time (user + system, ms) at each write: where it is below the wall time, the server was waiting for a core. */
  readonly cpu: number[]
  /** Which socket each write went to (numbered as first written to). */
  readonly sockets: number[]
  readonly marks: Record<string, number>
}

const dir = process.env.BENCH_RELAY_TRACE
if (dir) {
  const now = () => Number(process.hrtime.bigint()) / 1e6
  const bursts: Burst[] = []
  let current: Burst | null = null
  let last = 0
  const socketIds = new WeakMap<net.Socket, number>()
  let sockets = 0
  const proto = net.Socket.prototype as net.Socket & { emit(event: string | symbol, ...args: unknown[]): boolean }
  const emit = proto.emit
  proto.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') {
      const t = now()
      if (current === null || t - last > QUIET_MS) {
        const cpu = process.cpuUsage()
        bursts.push((current = { t0: t, cpu0: (cpu.user + cpu.system) / 1000, reads: 0, writes: [], cpu: [], sockets: [], marks: {} }))
      }
      current.reads++
      last = t
    }
    return emit.call(this, event, ...args)
  }
  const write = proto.write as (...args: unknown[]) => boolean
  proto.write = function (this: net.Socket, ...args: unknown[]): boolean {
    const t = now()
    current?.writes.push(t - current.t0)
    if (current !== null) {
      const cpu = process.cpuUsage()
      current.cpu.push((cpu.user + cpu.system) / 1000)
      let id = socketIds.get(this)
      if (id === undefined) socketIds.set(this, (id = sockets++))
      current.sockets.push(id)
    }
    last = t
    return write.apply(this, args)
  } as typeof proto.write
  ;(globalThis as { __relayMark?: (name: string) => void }).__relayMark = (name) => {
    if (current !== null && !(name in current.marks)) current.marks[name] = now() - current.t0
  }
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `${process.pid}.json`)
  setInterval(() => fs.writeFileSync(file, JSON.stringify({ argv: process.argv.slice(1), bursts })), 1000).unref()
}
