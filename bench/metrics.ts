/**
 * The server's own resource use, read from outside its process through /proc, so the same
 * numbers come from every server whatever it runs: CPU seconds (user + system, all threads,
 * /proc/<pid>/stat) and resident memory (VmRSS and VmHWM, /proc/<pid>/status).
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/** CPU time of the process so far, in ms (10 ms resolution at the usual 100 ticks/s). */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1000) / TICKS_PER_SECOND
}

/** cpuMs, or NaN when the process has gone or is not one this user may read. */
export function tryCpuMs(pid: number): number {
  try {
    return cpuMs(pid)
  } catch {
    return NaN
  }
}

export interface Memory {
  readonly rssMB: number
  /** Peak RSS of the process so far. */
  readonly hwmMB: number
}

export function memory(pid: number): Memory {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 }
}

/** CPU used by `pid` while `work` runs, with wall time. */
export async function measureCpu<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpuMs: number; wallMs: number }> {
  const cpu0 = cpuMs(pid)
  const t0 = performance.now()
  const result = await work()
  return { result, cpuMs: cpuMs(pid) - cpu0, wallMs: performance.now() - t0 }
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (finite.length === 0) return NaN
  const mid = Math.floor(finite.length / 2)
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2
}

/**
 * Waits until each process used at most 2 ticks of CPU in the last `quietMs` (or `timeoutMs`
 * passes): they are idle. Several pids are the instances of one server, which must all be quiet
 * at once.
 *
 * The window slides: CPU is sampled every STEP_MS (at most), and the wait ends as soon as the
 * last `quietMs` were quiet. Back to back windows of `quietMs` waited half a window more on
 * average (up to a whole one) after the work had ended: the eleventh session's first full run
 * took 601 s with them, the three after 514-546 s.
 */
export async function waitIdle(pids: readonly number[], quietMs = 300, timeoutMs = 15_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  const step = Math.min(STEP_MS, quietMs / 4)
  const samples: Array<{ at: number; cpu: number[] }> = [{ at: performance.now(), cpu: pids.map(cpuMs) }]
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, step))
    const now = { at: performance.now(), cpu: pids.map(cpuMs) }
    samples.push(now)
    // The newest sample at least quietMs old starts the window; older ones are no longer needed.
    let from = -1
    for (let i = samples.length - 1; i >= 0; i--) {
      if (now.at - samples[i]!.at >= quietMs) {
        from = i
        break
      }
    }
    if (from < 0) continue
    samples.splice(0, from)
    const first = samples[0]!
    if (now.cpu.every((ms, i) => ms - first.cpu[i]! <= 2000 / TICKS_PER_SECOND)) return true
  }
  return false
}

/** How often waitIdle samples the processes' CPU time. */
const STEP_MS = 100
