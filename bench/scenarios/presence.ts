/**
 * 7. Presence (opt-in): one room of idle clients, nobody typing. Every stock client renews its
 * unchanged awareness state every 15-18 s and a server relays each renewal to the room, so an
 * idle room of N costs about N²/16 frames a second: what that costs each server, and what each
 * client receives.
 */
import type { PresenceResult } from '../load/roles.js'
import { sleep } from '../load/wait.js'
import { serverNow, share, target, withServer } from './harness.js'
import type { Scenario } from './types.js'

const ROOM = 'idle'
/** Deadline for every client of a load process to join and sync. */
const OPEN_MS = 60_000
/** A stock client's renewal period, on average: at the first 3 s check after its state is 15 s old. */
const RENEWAL_MS = 16_500

export const presence: Scenario = {
  name: 'presence',
  title: 'An idle room: presence renewals',
  optIn: true,
  describe: (p) =>
    `${p.presence.clients} clients (stock providers, shared by ${p.presence.loadProcesses} load processes) join one room one at a time ` +
    `over ${p.presence.spreadMs / 1000} s, each with a user in its awareness, and nobody types. A stock client re-sends its unchanged awareness state ` +
    `every 15-18 s (y-protocols renews a state once it is 15 s old, checking every 3 s, and drops another client's state after ` +
    `30 s without a renewal), and the server relays each renewal to the room. Joining one by one, as people do, spreads the renewals as in a room; clients made at once renew at once. Once every client holds every state, what every client ` +
    `receives is counted for ${p.presence.windowMs / 1000} s, about ${renewals(p.presence.windowMs)} of each ` +
    `client: messages are the awareness frames that changed something at the client, entries the client states they carried; ` +
    `server CPU per entry = server CPU time in the window / entries received by all clients. States dropped as timed out are ` +
    `presences the server failed to renew: a correct server has none.`,
  // Not a row: the entries each client receives per second, which is the renewals of the others
  // whatever the server (recorded and logged, as a check that every server delivered them all).
  rows: () => [
    { key: 'cpuPct', label: 'server CPU while idle', unit: '%', better: 'lower' },
    { key: 'msgsPerClientS', label: 'awareness messages each client receives per second', unit: '/s', better: 'lower' },
    { key: 'usPerEntry', label: 'server CPU per presence entry delivered', unit: 'us', better: 'lower' },
    { key: 'rssMB', label: 'server RSS', unit: 'MB', better: 'lower' },
    { key: 'timedOut', label: 'presence states dropped by clients (timed out)', unit: 'count', better: 'lower' },
  ],
  clusters: false,
  timeoutMs: (p) => p.presence.spreadMs + OPEN_MS + p.presence.windowMs + 60_000,
  async run(ctx) {
    const p = ctx.params.presence
    await withServer(ctx, this.timeoutMs(ctx.params), async (server, _first, loads) => {
      const opened = await Promise.all(
        loads.map((l, i) =>
          l.run(
            'presenceOpen',
            { ...target(server), room: ROOM, clients: share(p.clients, loads.length, i), total: p.clients, slot: i, slots: loads.length, spreadMs: p.spreadMs, timeoutMs: OPEN_MS },
            p.spreadMs + OPEN_MS + 10_000,
          ),
        ),
      )
      const m = ctx.metrics
      m.openS = Math.max(...opened.map((o) => o.ms)) / 1000
      // No wait for quiet: the joins are over once every client holds every state (presenceOpen),
      // and from then on the renewals never stop (the reference server is never quiet at 500).
      await Promise.all(loads.map((l) => l.run('presenceWatch', undefined as never, 10_000)))
      const before = serverNow(server)
      const t0 = performance.now()
      // A timed window is the measurement itself, not a wait for something to happen: a sleep.
      await sleep(p.windowMs)
      const after = serverNow(server)
      const windowMs = performance.now() - t0
      const seen = await Promise.all(loads.map((l) => l.run('presenceWatchEnd', undefined as never, 10_000)))
      record(m, seen, { cpuMs: after.cpuMs - before.cpuMs, windowMs, rssMB: after.rssMB })
      const timedOut = m.timedOut!
      if (timedOut > 0) ctx.notes.push(`clients dropped ${timedOut} presence states as timed out: renewals the server did not deliver within 30 s`)
      const drops = sum(seen, (s) => s.drops)
      if (drops > 0) ctx.notes.push(`${drops} clients lost their connection in the window`)
      const sent = sum(seen, (s) => s.renewals)
      const entries = sum(seen, (s) => s.entries)
      ctx.log(
        `${p.clients} clients: each receives ${m.msgsPerClientS!.toFixed(2)} messages/s (${m.entriesPerClientS!.toFixed(1)} entries/s); ` +
          `${sent} renewals sent, ${entries} entries received (${((100 * entries) / (sent * (p.clients - 1))).toFixed(0)} % of renewals x other clients); ` +
          `${sum(seen, (s) => s.changes)} state changes; server CPU ${m.cpuPct!.toFixed(1)} % (${m.cpuMs} ms, ${m.usPerEntry!.toFixed(2)} µs per entry), ` +
          `RSS ${m.rssMB!.toFixed(0)} MB; load CPU ${seen.map((s) => ((100 * s.clientCpuMs) / s.ms).toFixed(0) + ' %').join(', ')}; timed out ${timedOut}, drops ${drops}`,
      )
    }, { loadProcesses: p.loadProcesses })
  },
}

/**
 * The rows from one window. Per-second rates use each load process's own window (started and
 * ended by its own steps, a few ms off the harness's); server CPU uses the harness's.
 */
function record(m: Record<string, number>, seen: readonly PresenceResult[], server: { cpuMs: number; windowMs: number; rssMB: number }): void {
  const clients = sum(seen, (s) => s.clients)
  const perClientS = (pick: (s: PresenceResult) => number) => sum(seen, (s) => pick(s) / (s.ms / 1000)) / clients
  const entries = sum(seen, (s) => s.entries)
  m.cpuMs = server.cpuMs
  m.cpuPct = (100 * server.cpuMs) / server.windowMs
  m.msgsPerClientS = perClientS((s) => s.messages)
  m.entriesPerClientS = perClientS((s) => s.entries)
  m.usPerEntry = entries > 0 ? (server.cpuMs * 1000) / entries : NaN
  m.rssMB = server.rssMB
  m.timedOut = sum(seen, (s) => s.timedOut)
  m.renewals = sum(seen, (s) => s.renewals)
  m.changes = sum(seen, (s) => s.changes)
  m.drops = sum(seen, (s) => s.drops)
  // The busiest load process: one near a full core delivers late, whatever the server.
  m.clientCpuPct = Math.max(...seen.map((s) => (100 * s.clientCpuMs) / s.ms))
}

/** How many renewals of each client a window of `ms` holds, in words. */
function renewals(ms: number): string {
  const n = Math.max(1, Math.round(ms / RENEWAL_MS))
  return n === 1 ? 'one renewal' : n === 2 ? 'two renewals' : `${n} renewals`
}

function sum<T>(items: readonly T[], pick: (item: T) => number): number {
  return items.reduce((total, item) => total + pick(item), 0)
}
