/**
 * 1. Fan-out: one room, one typist at 20 keystrokes/s, each with a cursor move, read by 50 and
 * then 200 readers. Keystroke-to-reader latency, and the server's CPU per delivered frame
 * (every keystroke is relayed to every reader twice: its doc update and its cursor).
 */
import { ARRIVAL, lastClock, typeResult } from '../load/roles.js'
import { waitIdle } from '../metrics.js'
import { clusterRows, lag, recordCluster, serverNow, servicesInterval, share, target, withServer } from './harness.js'
import type { Scenario } from './types.js'

export const fanout: Scenario = {
  name: 'fanout',
  title: 'Fan-out: one typist, many readers',
  describe: (p) =>
    `One room; one typist types ${p.fanout.edits} keystrokes at ${p.fanout.rate}/s (after ${p.fanout.warmup} unmeasured ones; and once the server has started, before any reader joins, ${p.fanout.serverWarmup.edits} unmeasured ones at ${p.fanout.serverWarmup.rate}/s), each followed by a cursor move ` +
    `(an awareness update), to ${p.fanout.readers.join(' and then ')} readers (stock providers, opened afresh for each count; the typist in a load process of its ` +
    `own, the readers shared by ${p.fanout.readerProcesses} more). Latency is from the typist handing the keystroke to its provider ` +
    `until the bytes that carry it reach the reader's process (${ARRIVAL}), on the machine's monotonic clock. ` +
    `Server CPU per frame = server CPU time during the typing / (keystrokes x readers x 2 frames).`,
  rows: (p) =>
    p.fanout.readers.flatMap((n) => [
      { key: `p50@${n}`, label: `${n} readers: latency p50`, unit: 'ms' as const, better: 'lower' as const },
      { key: `p99@${n}`, label: `${n} readers: latency p99`, unit: 'ms' as const, better: 'lower' as const },
      { key: `cpuPct@${n}`, label: `${n} readers: server CPU`, unit: '%' as const, better: 'lower' as const },
      { key: `usPerFrame@${n}`, label: `${n} readers: server CPU per delivered frame`, unit: 'us' as const, better: 'lower' as const },
      { key: `lagP99@${n}`, label: `${n} readers: server event-loop lag p99`, unit: 'ms' as const, better: 'lower' as const },
      { key: `lost@${n}`, label: `${n} readers: keystrokes not delivered`, unit: 'count' as const, better: 'lower' as const },
      ...clusterRows((k) => `${k}@${n}`, (text) => `${n} readers: ${text}`),
    ]),
  clusters: true,
  timeoutMs: (p) =>
    60_000 + (p.fanout.readers.length * ((p.fanout.edits + p.fanout.warmup) / p.fanout.rate) + p.fanout.serverWarmup.edits / p.fanout.serverWarmup.rate) * 1000 * 2,
  async run(ctx) {
    const p = ctx.params.fanout
    const readerProcesses = p.readerProcesses
    await withServer(ctx, this.timeoutMs(ctx.params), async (server, typistLoad, loads) => {
      const readerLoads = loads.slice(1)
      const { clientId } = await typistLoad.run('fanoutTypist', { ...target(server), room: 'fanout', timeoutMs: 30_000 }, 40_000)
      // Keystrokes typed in one interval, timed at every reader of every process.
      const type = async (edits: number, rate = p.rate) => {
        await Promise.all(loads.map((l) => l.run('watchStart', undefined as never, 10_000)))
        const { typed, typedMs } = await typistLoad.run('fanoutType', { edits, rate }, 30_000 + (edits / rate) * 2000)
        const targets = typed.map(lastClock)
        const watched = await Promise.all(loads.map((l) => l.run('watchEnd', { targets, drainMs: 10_000 }, 20_000)))
        return typeResult(typed, watched, typedMs)
      }
      // A server that has run for a while has its relay path compiled by V8's optimising tier;
      // one just started runs it in the interpreter and the baseline compiler. At 20 keystrokes
      // a second, the 120 of a reader count are too few for the optimiser to reach the code run
      // once per keystroke (checking, applying, storing), so without this the rows measured how
      // soon V8 optimises each server's JavaScript rather than how fast a running server relays.
      // Faster than the measured typing, so that it costs seconds; before the readers join, so
      // that their age in the measured intervals stays as it was (see fanoutReaders).
      await type(p.serverWarmup.edits, p.serverWarmup.rate)
      for (const readers of p.readers) {
        // Reader processes take equal shares, each opening its own at once (fresh ones, closing
        // those of the count before).
        await Promise.all(
          readerLoads.map((l, i) =>
            l.run('fanoutReaders', { ...target(server), room: 'fanout', readers: share(readers, readerProcesses, i), offset: i, typistId: clientId, timeoutMs: 30_000 }, 40_000),
          ),
        )
        // Unmeasured keystrokes first: otherwise whichever server runs first in a repetition pays
        // for the load process's own cold start (one such run had a single 80 ms keystroke, which
        // at 50 readers is the whole p99).
        await type(p.warmup)
        // Everyone quiet, the load processes too: the join-time presence traffic settled, and no
        // reader still decoding the warm-up's frames while the first keystrokes are measured.
        await waitIdle([...server.pids, ...loads.map((l) => l.pid)])
        await server.probe('lag-reset')
        const servicesUsed = await servicesInterval(server)
        const before = serverNow(server)
        const typed = await type(p.edits)
        const after = serverNow(server)
        const services = await servicesUsed()
        const cpu = after.cpuMs - before.cpuMs
        const frames = p.edits * readers * 2
        const m = ctx.metrics
        m[`p50@${readers}`] = typed.latency.p50
        m[`p99@${readers}`] = typed.latency.p99
        m[`max@${readers}`] = typed.latency.max
        m[`cpuMs@${readers}`] = cpu
        m[`cpuPct@${readers}`] = (100 * cpu) / typed.typedMs
        m[`usPerFrame@${readers}`] = (cpu * 1000) / frames
        m[`lagP99@${readers}`] = (await lag(server)).p99Ms
        m[`lost@${readers}`] = typed.expected - typed.delivered
        m[`rssMB@${readers}`] = after.rssMB
        m[`clientCpuPct@${readers}`] = (100 * typed.clientCpuMs) / typed.typedMs
        m[`clientLagP99@${readers}`] = typed.clientLagP99Ms
        recordCluster(ctx, (k) => `${k}@${readers}`, { typed, services, serverCpuMs: cpu, frames })
        const extra = services ? `, Postgres ${services.postgresMs} ms, Redis ${services.redisMs} ms CPU` : ''
        const across = typed.across.count > 0 ? ` (across instances: p50 ${typed.across.p50.toFixed(2)} ms, p99 ${typed.across.p99.toFixed(2)} ms)` : ''
        ctx.log(`${readers} readers: p50 ${typed.latency.p50.toFixed(2)} ms, p99 ${typed.latency.p99.toFixed(2)} ms${across}, server ${cpu} ms CPU${extra}, lost ${m[`lost@${readers}`]}`)
      }
    }, { loadProcesses: 1 + readerProcesses })
  },
}
