/**
 * 2. Many rooms: rooms x 4 clients, every client typing at a human rate with a cursor move per
 * keystroke. Latency of each keystroke at the three other members of its room, the server's RSS
 * and CPU.
 */
import { ARRIVAL } from '../load/roles.js'
import { waitIdle } from '../metrics.js'
import { clusterRows, lag, recordCluster, serverNow, servicesInterval, target, withServer } from './harness.js'
import type { Scenario } from './types.js'

export const rooms: Scenario = {
  name: 'rooms',
  title: 'Many rooms: every client typing',
  describe: (p) => {
    const r = p.rooms
    const clients = r.rooms * r.perRoom
    const typing = r.turnMs > 0 ? r.rooms : clients
    return (
      `${r.rooms} rooms x ${r.perRoom} clients (${clients} stock providers in one load process, connected 100 at a time). ` +
      `Each client types ${r.rate} keystrokes/s (the low end of real typing) with a cursor move per keystroke` +
      (r.turnMs > 0 ? `, the ${r.perRoom} members of a room taking turns of ${r.turnMs / 1000} s` : '') +
      `, for ${r.durationMs / 1000} s (after ${r.warmupMs / 1000} s unmeasured): ${typing * r.rate} keystrokes/s into the server and ` +
      `${typing * r.rate * (r.perRoom - 1) * 2} frames/s out of it. Latency is per keystroke per reader (the other ` +
      `${r.perRoom - 1} members of the room), until the bytes that carry it reach the load process (${ARRIVAL}).`
    )
  },
  rows: () => [
    { key: 'p50', label: 'latency p50', unit: 'ms', better: 'lower' },
    { key: 'p99', label: 'latency p99', unit: 'ms', better: 'lower' },
    { key: 'cpuPct', label: 'server CPU while typing', unit: '%', better: 'lower' },
    { key: 'usPerFrame', label: 'server CPU per delivered frame', unit: 'us', better: 'lower' },
    { key: 'rssMB', label: 'server RSS while typing', unit: 'MB', better: 'lower' },
    { key: 'lagP99', label: 'server event-loop lag p99', unit: 'ms', better: 'lower' },
    { key: 'lost', label: 'keystrokes not delivered', unit: 'count', better: 'lower' },
    { key: 'connectS', label: 'time to connect and sync all clients', unit: 's', better: 'lower' },
    ...clusterRows((k) => k, (text) => text),
  ],
  clusters: true,
  timeoutMs: (p) => 180_000 + (p.rooms.durationMs + p.rooms.warmupMs) * 2,
  async run(ctx) {
    const p = ctx.params.rooms
    await withServer(ctx, this.timeoutMs(ctx.params), async (server, load) => {
      const opened = await load.run(
        'roomsOpen',
        { ...target(server), rooms: p.rooms, perRoom: p.perRoom, batch: 100, timeoutMs: 120_000 },
        130_000,
      )
      const m = ctx.metrics
      m.connectS = opened.ms / 1000
      // Typing first unmeasured, as in the fan-out: the first keystroke into each of 500 rooms at
      // once is every client's and server's cold start (the load process's most of all: in runs
      // with it, the first 400-800 ms held most keystrokes over 50 ms, with every server).
      await load.run('roomsType', { durationMs: p.warmupMs, rate: p.rate, perRoom: p.perRoom, turnMs: p.turnMs, drainMs: 10_000 }, p.warmupMs + 30_000)
      await waitIdle(server.pids)
      await server.probe('lag-reset')
      const servicesUsed = await servicesInterval(server)
      const before = serverNow(server)
      const typed = await load.run('roomsType', { durationMs: p.durationMs, rate: p.rate, perRoom: p.perRoom, turnMs: p.turnMs, drainMs: 10_000 }, p.durationMs + 30_000)
      const after = serverNow(server)
      const services = await servicesUsed()
      const cpu = after.cpuMs - before.cpuMs
      m.p50 = typed.latency.p50
      m.p99 = typed.latency.p99
      m.max = typed.latency.max
      m.cpuMs = cpu
      m.cpuPct = (100 * cpu) / typed.typedMs
      m.usPerFrame = (cpu * 1000) / (typed.expected * 2)
      m.rssMB = after.rssMB
      m.hwmMB = after.hwmMB
      m.lagP99 = (await lag(server)).p99Ms
      m.lost = typed.expected - typed.delivered
      m.clientCpuPct = (100 * typed.clientCpuMs) / typed.typedMs
      m.clientLagP99 = typed.clientLagP99Ms
      recordCluster(ctx, (k) => k, { typed, services, serverCpuMs: cpu, frames: typed.expected * 2 })
      ctx.log(`p50 ${typed.latency.p50.toFixed(1)} ms, p99 ${typed.latency.p99.toFixed(1)} ms, server CPU ${m.cpuPct.toFixed(0)} %, client CPU ${m.clientCpuPct.toFixed(0)} % (lag p99 ${typed.clientLagP99Ms.toFixed(0)} ms), server lag p99 ${m.lagP99!.toFixed(0)} ms, RSS ${after.rssMB.toFixed(0)} MB, lost ${m.lost}` +
        (services ? `, Postgres ${services.postgresMs} ms, Redis ${services.redisMs} ms CPU` : '') +
        (typed.across.count > 0 ? `, across instances p99 ${typed.across.p99.toFixed(1)} ms` : ''))
    })
  },
}
