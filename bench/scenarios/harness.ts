/** Shared by the scenarios: a server and a load process for one run, always torn down. */
import { LoadProcess } from '../load/process.js'
import { ServerUnderTest } from '../servers/index.js'
import { cpuMs, memory } from '../metrics.js'
import type { RunContext } from './types.js'

export async function withServer(
  ctx: RunContext,
  lifetimeMs: number,
  body: (server: ServerUnderTest, load: LoadProcess) => Promise<void>,
): Promise<void> {
  const server = await ServerUnderTest.start(ctx.def, ctx.tmpRoot)
  const load = new LoadProcess(lifetimeMs)
  ctx.onAbort(() => {
    load.kill()
    server.kill()
  })
  try {
    await body(server, load)
  } finally {
    await load.end()
    const stopped = await server.stop().catch(() => null)
    if (stopped?.killed) ctx.notes.push('did not exit within 15 s of SIGTERM; killed')
    await server.dispose()
  }
}

export function target(server: ServerUnderTest): { kind: ServerUnderTest['def']['client']; url: string } {
  return { kind: server.def.client, url: server.url }
}

/** Resident memory now, and CPU ms so far, of the server's current process. */
export function serverNow(server: ServerUnderTest): { rssMB: number; hwmMB: number; cpuMs: number } {
  const pid = server.process.pid
  return { ...memory(pid), cpuMs: cpuMs(pid) }
}

/** Event-loop delay since the last reset, from the probe inside the server. */
export async function lag(server: ServerUnderTest): Promise<{ p99Ms: number; maxMs: number }> {
  const reply = await server.process.probe('lag')
  return { p99Ms: reply?.lag?.p99Ms ?? NaN, maxMs: reply?.lag?.maxMs ?? NaN }
}
