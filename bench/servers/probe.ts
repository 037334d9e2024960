/**
 * Preloaded (`--import`) into every server under test, Tandem and peers alike, so the same
 * instrument reads them all. It also stops its server (SIGTERM) when the harness dies. It answers the harness over the IPC channel: event-loop delay since
 * the last reset (perf_hooks histogram, 10 ms resolution), and a forced GC (the servers run with
 * --expose-gc) so RSS is read after garbage is gone. It never touches the server's own code.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'

export type ProbeRequest = { readonly id: number; readonly op: 'lag-reset' | 'lag' | 'gc' }
export type ProbeReply = {
  readonly id: number
  readonly lag?: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number }
  readonly heapUsedMB?: number
}

if (process.send) {
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  process.channel?.unref()
  // The harness is gone (killed mid-run): shut down the normal way rather than linger.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'))
  process.on('message', (raw: unknown) => {
    const req = raw as ProbeRequest
    if (typeof req !== 'object' || req === null || typeof req.id !== 'number') return
    let reply: ProbeReply = { id: req.id }
    if (req.op === 'lag-reset') histogram.reset()
    else if (req.op === 'lag') {
      // The histogram counts the 10 ms sampling interval itself; what is left is lag.
      const ms = (ns: number) => Math.max(0, ns / 1e6 - 10)
      reply = {
        id: req.id,
        lag: { p50Ms: ms(histogram.percentile(50)), p99Ms: ms(histogram.percentile(99)), maxMs: ms(histogram.max) },
      }
    } else if (req.op === 'gc') {
      const gc = (globalThis as { gc?: () => void }).gc
      touchYoungGeneration()
      gc?.()
      gc?.()
      reply = { id: req.id, heapUsedMB: process.memoryUsage().heapUsed / 1e6 }
    }
    process.send?.(reply)
  })
}

/**
 * Allocates short-lived garbage well past the young generation's size, so that all of its pages
 * have been used before RSS is read: whether they had been by the server's own work is then no
 * part of a difference between two readings. With the young generation left to grow it stays
 * as it is (garbage does not survive, and only survivors make V8 grow it).
 */
let sink: unknown = null
function touchYoungGeneration(): void {
  for (let i = 0; i < 1_000_000; i++) sink = [i, i, i, i, i, i]
  sink = null
}
