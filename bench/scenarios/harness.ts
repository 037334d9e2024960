/** Shared by the scenarios: a server and a load process for one run, always torn down. */
import { LoadProcess } from '../load/process.js'
import type { Target, TypeResult } from '../load/roles.js'
import { ServerUnderTest } from '../servers/index.js'
import { servicesDelta, type ServicesCpu, type ServicesSample } from '../servers/cluster.js'
import { cpuMs, memory } from '../metrics.js'
import type { Row, RunContext } from './types.js'

/**
 * Starts the server and `loadProcesses` load processes (one unless a scenario spreads its clients),
 * runs `body` with them, and tears everything down whatever happens.
 */
export async function withServer(
  ctx: RunContext,
  lifetimeMs: number,
  body: (server: ServerUnderTest, load: LoadProcess, loads: readonly LoadProcess[]) => Promise<void>,
  options: { nodeFlags?: readonly string[]; loadProcesses?: number } = {},
): Promise<void> {
  const server = await ServerUnderTest.start(ctx.def, ctx.tmpRoot, options.nodeFlags ?? [])
  const loads = Array.from({ length: options.loadProcesses ?? 1 }, () => new LoadProcess(lifetimeMs, ctx.params.echo))
  ctx.onAbort(() => {
    for (const load of loads) load.kill()
    server.kill()
  })
  let failed = true
  try {
    await body(server, loads[0]!, loads)
    failed = false
  } finally {
    await Promise.all(loads.map((load) => load.end()))
    // After a failed run nothing more is read from the server or its data: it gets a few
    // seconds to exit, not the 15 s a restart allows (Hocuspocus, stalled in a replay, never
    // exits on SIGTERM and cost the suite 15 s each time).
    const graceMs = failed ? FAILED_RUN_GRACE_MS : undefined
    const stopped = await server.stop(graceMs).catch(() => null)
    if (stopped?.killed) ctx.notes.push(`did not exit within ${(graceMs ?? 15_000) / 1000} s of SIGTERM; killed`)
    await server.dispose()
  }
}

const FAILED_RUN_GRACE_MS = 3_000

export function target(server: ServerUnderTest): Target {
  return { kind: server.def.client, urls: server.urls }
}

/** Process i's share of `clients` over `processes`: equal, the first ones taking what is left over. */
export function share(clients: number, processes: number, i: number): number {
  return Math.floor(clients / processes) + (i < clients % processes ? 1 : 0)
}

/**
 * Resident memory now, and CPU ms so far, of the server: summed over its instances when it has
 * several (a cluster's cost is that of all its processes).
 */
export function serverNow(server: ServerUnderTest): { rssMB: number; hwmMB: number; cpuMs: number } {
  let rssMB = 0
  let hwmMB = 0
  let cpu = 0
  for (const pid of server.pids) {
    const m = memory(pid)
    rssMB += m.rssMB
    hwmMB += m.hwmMB
    cpu += cpuMs(pid)
  }
  return { rssMB, hwmMB, cpuMs: cpu }
}

/** Event-loop delay since the last reset, from the probe inside the server: the worst instance's. */
export async function lag(server: ServerUnderTest): Promise<{ p99Ms: number; maxMs: number }> {
  const replies = await server.probe('lag')
  const worst = (pick: (l: { p99Ms: number; maxMs: number }) => number) =>
    replies.reduce((max, r) => Math.max(max, r?.lag ? pick(r.lag) : NaN), -Infinity)
  return { p99Ms: worst((l) => l.p99Ms), maxMs: worst((l) => l.maxMs) }
}

/** Starts measuring Postgres's and Redis's CPU; the returned function ends it (null: not used). */
export async function servicesInterval(server: ServerUnderTest): Promise<() => Promise<ServicesCpu | null>> {
  const before: ServicesSample | null = await server.servicesSample()
  return async () => {
    const after = await server.servicesSample()
    return before && after ? servicesDelta(before, after) : null
  }
}

/**
 * The rows only a cluster entry fills: latency across instances, and the CPU of Postgres and
 * Redis, which for Tandem on SQLite (or the peers) is inside the server's own CPU. `key` and
 * `label` add the scenario's qualifier (fan-out's reader count).
 */
export function clusterRows(key: (name: string) => string, label: (text: string) => string): Row[] {
  return [
    { key: key('acrossP50'), label: label('latency p50, typist and reader on different instances'), unit: 'ms', better: 'lower', optional: true },
    { key: key('acrossP99'), label: label('latency p99, typist and reader on different instances'), unit: 'ms', better: 'lower', optional: true },
    { key: key('pgCpuPct'), label: label("Postgres CPU (the run's backends)"), unit: '%', better: 'lower', optional: true },
    { key: key('redisCpuPct'), label: label('Redis CPU'), unit: '%', better: 'lower', optional: true },
    { key: key('allUsPerFrame'), label: label('Tandem + Postgres + Redis CPU per delivered frame'), unit: 'us', better: 'lower', optional: true },
  ]
}

/** Fills clusterRows' metrics for one typing interval; nothing when there is nothing to say. */
export function recordCluster(
  ctx: RunContext,
  key: (name: string) => string,
  reading: { typed: TypeResult; services: ServicesCpu | null; serverCpuMs: number; frames: number },
): void {
  const { typed, services } = reading
  const m = ctx.metrics
  if (typed.across.count > 0) {
    m[key('acrossP50')] = typed.across.p50
    m[key('acrossP99')] = typed.across.p99
  }
  if (!services) return
  m[key('pgCpuMs')] = services.postgresMs
  m[key('redisCpuMs')] = services.redisMs
  m[key('pgCpuPct')] = (100 * services.postgresMs) / typed.typedMs
  m[key('redisCpuPct')] = (100 * services.redisMs) / typed.typedMs
  m[key('allUsPerFrame')] = ((reading.serverCpuMs + services.postgresMs + services.redisMs) * 1000) / reading.frames
  if (services.postgresGone > 0) {
    ctx.notes.push(`${services.postgresGone} Postgres backend(s) ended during a measurement; their CPU in it is not counted`)
  }
}
