/**
 * 5. Reconnect storm: clients spread over rooms, each room with some text; the server restarts
 * (SIGTERM, start on the same port and data) and every client reconnects in the same instant.
 */
import { waitIdle } from '../metrics.js'
import { serverNow, target, withServer } from './harness.js'
import type { Scenario } from './types.js'

export const storm: Scenario = {
  name: 'storm',
  title: 'Reconnect storm after a restart',
  describe: (p) =>
    `${p.storm.rooms * p.storm.perRoom} clients (stock providers, one load process) over ${p.storm.rooms} rooms; one ` +
    `client per room types ${p.storm.edits} keystrokes and every client receives them. The clients disconnect, the ` +
    `server is stopped with SIGTERM and started again on the same port and data, and then all clients call connect() in ` +
    `the same event-loop turn (rather than on their providers' jittered back-off, so the server gets the storm at once). ` +
    `Time until every client has had its provider's sync event; every room must be loaded from the store.`,
  rows: () => [
    { key: 'stormMs', label: 'time until all clients are synced', unit: 'ms', better: 'lower' },
    { key: 'stormP50', label: 'median client: time until synced', unit: 'ms', better: 'lower' },
    { key: 'stormCpuMs', label: 'server CPU during the storm', unit: 'ms', better: 'lower' },
    { key: 'notSynced', label: 'clients not synced', unit: 'count', better: 'lower' },
    { key: 'notIntact', label: 'clients whose text changed', unit: 'count', better: 'lower' },
  ],
  clusters: false,
  timeoutMs: () => 240_000,
  async run(ctx) {
    const p = ctx.params.storm
    await withServer(ctx, this.timeoutMs(ctx.params), async (server, load) => {
      const m = ctx.metrics
      const opened = await load.run(
        'stormOpen',
        { ...target(server), rooms: p.rooms, perRoom: p.perRoom, edits: p.edits, batch: 100, timeoutMs: 90_000 },
        100_000,
      )
      m.openS = opened.ms / 1000
      await load.run('disconnectAll', undefined as never, 10_000)
      if (!(await waitIdle(server.pids, 1000, 30_000))) ctx.notes.push('server still busy 30 s after set-up')
      const stopped = await server.restart()
      if (stopped?.killed) ctx.notes.push('did not exit within 15 s of SIGTERM; killed')
      await waitIdle(server.pids, 300, 10_000)
      const cpu0 = serverNow(server).cpuMs
      const result = await load.run('reconnectAll', { timeoutMs: 60_000 }, 70_000)
      m.stormCpuMs = serverNow(server).cpuMs - cpu0
      m.notSynced = result.clients - result.synced
      m.notIntact = result.clients - result.intact
      m.stormP50 = result.perClient.p50
      if (Number.isFinite(result.ms)) m.stormMs = result.ms
      else throw new Error(`timed out at 60 s with ${result.synced} of ${result.clients} synced`)
      ctx.log(`all ${result.clients} synced in ${result.ms.toFixed(0)} ms (median client ${result.perClient.p50.toFixed(0)} ms), server CPU ${m.stormCpuMs} ms`)
    })
  },
}
