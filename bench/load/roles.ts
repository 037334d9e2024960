/**
 * What the clients of one load process do in each scenario. Each function is one step the
 * harness calls over IPC; state lives in the Load object the worker keeps. Every step has a
 * deadline and a fixed amount of work.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import * as Y from 'yjs'
import type { ClientKind } from '../servers/index.js'
import { createClient, type BenchClient } from './client.js'
import { clocksAfter, readUpdates } from './trace.js'
import { Reader, Typist, summarize, timeKeystrokes, type LatencySummary, type Seen, type Typed } from './typing.js'
import { sleep, waitFor, withTimeout } from './wait.js'

/** Keystrokes per update when the memory scenario writes its documents (see prefill). */
const PREFILL_MERGE = 100

export interface Target {
  readonly kind: ClientKind
  /** One URL per instance of the server: one, or several for a cluster. */
  readonly urls: readonly string[]
}

/** Which instance client `slot` connects to: round-robin over the instances. */
type Placement = (slot: number) => number
const roundRobin: Placement = (slot) => slot

export class Load {
  /** Whether this process's y-websocket clients send back the states they apply (Params.echo). */
  private readonly echo: boolean
  private clients: BenchClient[] = []
  private typists: Typist[] = []
  private readers: Reader[] = []
  private lastTexts = new Map<BenchClient, number>()

  constructor(options: { readonly echo: boolean }) {
    this.echo = options.echo
  }

  /**
   * Opens clients `batch` at a time, each batch synced before the next (or timeout). Client i
   * connects to instance `place(i)` (modulo the number of instances). `stamped` clients are
   * readers whose latency is measured (see arrival.ts).
   */
  private async open(target: Target, rooms: readonly string[], user: boolean, batch: number, timeoutMs: number, place = roundRobin, stamped = false): Promise<BenchClient[]> {
    const opened: BenchClient[] = []
    const deadline = performance.now() + timeoutMs
    for (let i = 0; i < rooms.length; i += batch) {
      const group = rooms.slice(i, i + batch).map((room, j) => {
        const instance = place(i + j) % target.urls.length
        return createClient(target.kind, target.urls[instance]!, room, {
          instance,
          echo: this.echo,
          stamped,
          ...(user ? { user: { name: `user-${i + j}`, color: '#30bced' } } : {}),
        })
      })
      opened.push(...group)
      this.clients.push(...group)
      const left = deadline - performance.now()
      await withTimeout(Promise.all(group.map((c) => c.whenSynced())), Math.max(1, left), `opening ${rooms.length} clients (${opened.length - group.length} synced)`)
    }
    return opened
  }

  // ---- 1. Fan-out --------------------------------------------------------------------------
  //
  // The fan-out spreads its clients over several load processes: one holds the typist, the others
  // share the readers, so that each process has fewer readers' frames to decode (arrival.ts says
  // why that queue must stay out of the latency).

  /** The typist of the fan-out room. On a cluster it is on the first instance. */
  async fanoutTypist(a: Target & { room: string; timeoutMs: number }): Promise<{ clientId: number }> {
    if (this.typists.length === 0) {
      const [client] = await this.open(a, [a.room], true, 1, a.timeoutMs, () => 0)
      this.typists.push(new Typist(client!, 0))
    }
    return { clientId: this.typists[0]!.clientId }
  }

  /**
   * `readers` new readers in this process, watching the typist `typistId`; those of an earlier
   * count are closed first. Fresh ones, so that no measured interval holds their awareness
   * renewals: y-protocols re-sends every client's state 15 s after its last change, at once for
   * clients that joined together, which at 200 readers is a burst of 10,000 to 40,000 frames
   * that decided the p99 of whichever server it fell on. Reader k goes to instance
   * `offset + k` (modulo the instances): on a two-instance cluster, half of each process's
   * readers read across.
   */
  async fanoutReaders(a: Target & { room: string; readers: number; offset: number; typistId: number; timeoutMs: number }): Promise<{ ms: number }> {
    const started = performance.now()
    const old = new Set(this.readers.map((r) => r.client))
    for (const c of old) c.destroy()
    this.clients = this.clients.filter((c) => !old.has(c))
    this.readers = []
    const opened = await this.open(a, Array(a.readers).fill(a.room), true, 50, a.timeoutMs, (i) => a.offset + i, true)
    for (const c of opened) this.readers.push(new Reader(c, [a.typistId]))
    return { ms: performance.now() - started }
  }

  /** `edits` keystrokes at `rate` per second, each with a cursor move, by this process's typist. */
  async fanoutType(a: { edits: number; rate: number }): Promise<{ typed: Typed[]; typedMs: number }> {
    const typist = this.typists[0]!
    const from = typist.count
    const t0 = performance.now()
    for (let i = 0; i < a.edits; i++) {
      const due = t0 + (i * 1000) / a.rate
      const wait = due - performance.now()
      if (wait > 1) await sleep(wait)
      typist.keystroke()
    }
    return { typed: [typist.typedSince(from)], typedMs: performance.now() - t0 }
  }

  // ---- Watching: what the readers of this process see in a measured interval ----------------

  private watching: { cpu: NodeJS.CpuUsage; histogram: ReturnType<typeof monitorEventLoopDelay> } | null = null

  /** Starts an interval: readers record from now on; this process's CPU and lag are read over it. */
  watchStart(): void {
    for (const r of this.readers) r.start()
    // The load process's own stalls: if it lags, latency is measured on a busy client.
    const histogram = monitorEventLoopDelay({ resolution: 10 })
    histogram.enable()
    this.watching = { cpu: process.cpuUsage(), histogram }
  }

  /**
   * Ends the interval once every reader holds `targets` (typist client id and its clock after
   * the last keystroke), or after `drainMs`: what each reader saw, and this process's cost.
   */
  async watchEnd(a: { targets: ReadonlyArray<readonly [number, number]>; drainMs: number }): Promise<Watched> {
    const targets = new Map(a.targets)
    await waitFor(() => this.readers.every((r) => r.holds(targets)), a.drainMs, 10)
    const { cpu, histogram } = this.watching!
    this.watching = null
    const used = process.cpuUsage(cpu)
    histogram.disable()
    return {
      seen: this.readers.flatMap((r) => r.seen()),
      clientCpuMs: (used.user + used.system) / 1000,
      clientLagP99Ms: Math.max(0, histogram.percentile(99) / 1e6 - 10),
    }
  }

  // ---- 2. Many rooms -----------------------------------------------------------------------

  /** On a cluster, the members of each room alternate over the instances: every room spans them. */
  async roomsOpen(a: Target & { rooms: number; perRoom: number; batch: number; timeoutMs: number }): Promise<{ ms: number }> {
    const started = performance.now()
    const names: string[] = []
    for (let r = 0; r < a.rooms; r++) for (let k = 0; k < a.perRoom; k++) names.push(`room-${r}`)
    const opened = await this.open(a, names, true, a.batch, a.timeoutMs, (i) => i % a.perRoom, true)
    for (let r = 0; r < a.rooms; r++) {
      const members = opened.slice(r * a.perRoom, (r + 1) * a.perRoom)
      const typists = members.map((c, k) => new Typist(c, r * a.perRoom + k))
      this.typists.push(...typists)
      for (const c of members) this.readers.push(new Reader(c, typists.map((t) => t.clientId)))
    }
    // No pause here: the row "time to connect and sync all clients" ends now. What the joins set
    // off settles in the unmeasured second of typing and the wait for quiet that follow.
    return { ms: performance.now() - started }
  }

  /**
   * Clients type at `rate` per second for `durationMs`. With `turnMs`, the members of a room
   * take turns of that length (one typist per room at a time), as people writing together do.
   * Typists and readers share this one process: the latencies here are tens to hundreds of ms of
   * the server's own queueing, and arrival stamps (arrival.ts) keep this process's decoding out
   * of them.
   */
  async roomsType(a: { durationMs: number; rate: number; perRoom: number; turnMs: number; drainMs: number }): Promise<TypeResult> {
    const from = this.typists.map((t) => t.count)
    this.watchStart()
    const period = 1000 / a.rate
    const t0 = performance.now()
    const schedule = (k: number): number[] => {
      // A fixed phase per typist (golden-ratio spread): the same schedule on every server.
      const phase = ((k * 0.618034) % 1) * period
      const member = k % a.perRoom
      const times: number[] = []
      for (let t = phase; t < a.durationMs; t += period) {
        if (a.turnMs > 0 && Math.floor(t / a.turnMs) % a.perRoom !== member) continue
        times.push(t0 + t)
      }
      return times
    }
    await Promise.all(
      this.typists.map(async (typist, k) => {
        for (const due of schedule(k)) {
          const wait = due - performance.now()
          if (wait > 1) await sleep(wait)
          typist.keystroke()
        }
      }),
    )
    const typedMs = performance.now() - t0
    const typed = this.typists.map((t, k) => t.typedSince(from[k]!))
    const watched = await this.watchEnd({ targets: typed.map(lastClock), drainMs: a.drainMs })
    return typeResult(typed, [watched], typedMs)
  }

  // ---- 3. Replay and 4. cold open -----------------------------------------------------------

  /**
   * One typist sends the trace's first `n` keystroke updates as fast as the server relays them
   * (at most `inFlightBytes` that the watcher does not hold yet; see Params); a watcher in the
   * same process reports when its text equals `expected`.
   */
  async replay(
    a: Target & { room: string; updatesFile: string; n: number; inFlightBytes: number; expected: string; timeoutMs: number },
  ): Promise<ReplayResult> {
    const updates = readUpdates(a.updatesFile, a.n)
    const [watcher, typist] = await this.open(a, [a.room, a.room], true, 2, 20_000)
    let heardAt = performance.now()
    const done = new Promise<number>((resolve) => {
      watcher!.doc.on('update', () => {
        heardAt = performance.now()
        const text = watcher!.text
        if (text.length === a.expected.length && text.toString() === a.expected) resolve(performance.now())
      })
    })
    // What the watcher holds, in update bytes: it holds update i once its state vector reaches
    // the trace client's clock after i.
    const clocks = clocksAfter(updates)
    const traceClient = Y.parseUpdateMeta(updates[0]!).to.keys().next().value ?? 0
    let heardUpTo = 0
    let heardBytes = 0
    const inFlight = (sentBytes: number): number => {
      const state = Y.getState(watcher!.doc.store, traceClient)
      while (heardUpTo < updates.length && clocks[heardUpTo]! <= state) heardBytes += updates[heardUpTo++]!.length
      return sentBytes - heardBytes
    }
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const sending = (async () => {
      let sentBytes = 0
      for (let i = 0; i < updates.length; i++) {
        typist!.sendUpdate(updates[i]!)
        sentBytes += updates[i]!.length
        if (i % 64 === 63 && inFlight(sentBytes) > a.inFlightBytes) {
          if (!(await waitFor(() => inFlight(sentBytes) <= a.inFlightBytes / 2, a.timeoutMs, 1))) throw new Error('the watcher never caught up')
        }
      }
      return performance.now()
    })()
    // The typist sends updates its own doc does not hold: if the server drops its connection,
    // what was in flight is gone for good (no resync can recover it), so the replay cannot end.
    // Say so at once instead of at the deadline.
    let check: NodeJS.Timeout | undefined
    const dropped = new Promise<never>((_, reject) => {
      check = setInterval(() => {
        const who = typist!.drops > 0 ? 'typist' : watcher!.drops > 0 ? 'watcher' : null
        if (who !== null) reject(new Error(`the server closed the ${who}'s connection during the replay`))
        // A server that relays nothing for this long has stalled (every healthy run relays
        // throughout); waiting out the deadline would only cost the suite time.
        if (performance.now() - heardAt > REPLAY_STALL_MS) {
          reject(new Error(`the watcher heard nothing for ${REPLAY_STALL_MS / 1000} s (it had ${watcher!.text.length} of ${a.expected.length} characters)`))
        }
      }, 20)
    })
    const [sentAt, doneAt] = await withTimeout(Promise.race([Promise.all([sending, done]), dropped]), a.timeoutMs, 'replay').finally(() =>
      clearInterval(check),
    )
    const cpu = process.cpuUsage(cpu0)
    return { ms: doneAt - t0, sendMs: sentAt - t0, clientCpuMs: (cpu.user + cpu.system) / 1000, updates: updates.length }
  }

  /** A new client opens `room`: time until it holds `expected` (its text, not just the sync event). */
  async openOnce(a: Target & { room: string; expected: string; timeoutMs: number }): Promise<OpenResult> {
    const t0 = performance.now()
    const client = createClient(a.kind, a.urls[0]!, a.room, { echo: this.echo })
    this.clients.push(client)
    let syncedMs = NaN
    const synced = client.whenSynced().then(() => (syncedMs = performance.now() - t0))
    void synced
    // A server that lost part of the document never reaches the text: give up once some text has
    // come and has not changed for STALLED_MS, rather than at the deadline. (Not from the sync
    // event: the reference server's comes at once with an empty document, and the text seconds
    // later.)
    let length = -1
    let changedAt = performance.now()
    const ok = await waitFor(
      () => {
        if (client.text.length === a.expected.length && client.text.toString() === a.expected) return true
        const now = performance.now()
        if (client.text.length !== length) {
          length = client.text.length
          changedAt = now
        }
        if (length > 0 && now - changedAt > STALLED_MS) throw new Stalled()
        return false
      },
      a.timeoutMs,
      1,
    ).catch((err: unknown) => {
      if (err instanceof Stalled) return false
      throw err
    })
    return { ms: ok ? performance.now() - t0 : NaN, syncedMs, ok, length: client.text.length, lastChangeMs: changedAt - t0 }
  }

  // ---- 5. Reconnect storm -------------------------------------------------------------------

  /** `rooms` x `perRoom` clients; the first of each room types `edits` keystrokes; all see them. */
  async stormOpen(a: Target & { rooms: number; perRoom: number; edits: number; batch: number; timeoutMs: number }): Promise<{ ms: number }> {
    const started = performance.now()
    const names: string[] = []
    for (let r = 0; r < a.rooms; r++) for (let k = 0; k < a.perRoom; k++) names.push(`storm-${r}`)
    const opened = await this.open(a, names, true, a.batch, a.timeoutMs)
    const writers: Typist[] = []
    for (let r = 0; r < a.rooms; r++) {
      const typist = new Typist(opened[r * a.perRoom]!, r)
      for (let i = 0; i < a.edits; i++) typist.keystroke()
      writers.push(typist)
    }
    const ok = await waitFor(
      () => opened.every((c, i) => c.text.length === writers[Math.floor(i / a.perRoom)]!.client.text.length),
      Math.max(1, a.timeoutMs - (performance.now() - started)),
      20,
    )
    if (!ok) throw new Error('storm set-up: not every client received its room text')
    for (const c of opened) this.lastTexts.set(c, c.text.length)
    return { ms: performance.now() - started }
  }

  async disconnectAll(): Promise<void> {
    for (const c of this.clients) c.disconnect()
    await sleep(200)
  }

  /** Every client connects in the same instant; time until all are synced again. */
  async reconnectAll(a: { timeoutMs: number }): Promise<StormResult> {
    const clients = this.clients
    const t0 = performance.now()
    let synced = 0
    let lastAt = NaN
    const times: number[] = []
    const all = Promise.all(
      clients.map(async (c) => {
        await c.whenSynced()
        synced++
        lastAt = performance.now()
        times.push(lastAt - t0)
      }),
    )
    for (const c of clients) c.connect()
    const finished = await withTimeout(all, a.timeoutMs, 'reconnect').then(
      () => true,
      () => false,
    )
    const intact = clients.filter((c) => c.text.length === this.lastTexts.get(c)).length
    return { ms: finished ? lastAt - t0 : NaN, synced, clients: clients.length, intact, perClient: summarize(times) }
  }

  // ---- 6. Memory ----------------------------------------------------------------------------

  /**
   * Writes the first `n` trace updates into each room, then checks a fresh client sees them. They
   * go as updates of PREFILL_MERGE keystrokes each (Y.mergeUpdates): the same document, and what
   * is measured is the memory each server holds for it once it is loaded, not how long a server
   * takes to store 250,000 single keystrokes (the replay measures that). Sent one by one, they
   * took a peer 30-50 s per run, most of the suite's memory scenario.
   */
  async prefill(a: Target & { rooms: string[]; updatesFile: string; n: number; expectedLength: number; batch: number; timeoutMs: number }): Promise<{ ms: number }> {
    const started = performance.now()
    const keystrokes = readUpdates(a.updatesFile, a.n)
    const updates: Uint8Array[] = []
    for (let i = 0; i < keystrokes.length; i += PREFILL_MERGE) updates.push(Y.mergeUpdates(keystrokes.slice(i, i + PREFILL_MERGE)))
    for (let i = 0; i < a.rooms.length; i += a.batch) {
      const writers = await this.open(a, a.rooms.slice(i, i + a.batch), false, a.batch, a.timeoutMs)
      for (const w of writers) for (const u of updates) w.sendUpdate(u)
      await waitFor(() => writers.every((w) => w.bufferedAmount() === 0), a.timeoutMs)
    }
    const checkers = await this.open(a, a.rooms, false, a.batch, a.timeoutMs)
    const ok = await waitFor(() => checkers.every((c) => c.text.length === a.expectedLength), a.timeoutMs, 20)
    if (!ok) throw new Error('prefill: not every document reached its length')
    await this.closeAll()
    return { ms: performance.now() - started }
  }

  /** Opens one client per name and, when given, waits until each holds `expectedLength` chars. */
  async openMany(a: Target & { rooms: string[]; batch: number; expectedLength?: number; timeoutMs: number }): Promise<{ ms: number; ok: boolean }> {
    const started = performance.now()
    const opened = await this.open(a, a.rooms, false, a.batch, a.timeoutMs)
    const ok =
      a.expectedLength === undefined ||
      (await waitFor(() => opened.every((c) => c.text.length === a.expectedLength), a.timeoutMs, 20))
    return { ms: performance.now() - started, ok }
  }

  async closeAll(): Promise<void> {
    for (const c of this.clients) c.destroy()
    this.clients = []
    this.typists = []
    this.readers = []
    this.lastTexts = new Map()
    this.idle = []
  }

  // ---- 7. Presence (opt-in): an idle room -----------------------------------------------------
  //
  // Nobody types: all that moves is each provider renewing its unchanged awareness state, which
  // y-protocols does once the state is 15 s old (it checks every 3 s), while it drops another
  // client's state that has gone 30 s without one. What the clients receive in a timed window is
  // what the server relays for them.

  private idle: BenchClient[] = []
  private presence: { counts: PresenceCounts; drops: number; cpu: NodeJS.CpuUsage; t0: number; detach: () => void } | null = null

  /**
   * This process's `clients` of the `total` in `room`, each with a user in its awareness as an
   * editor has, joining one at a time over `spreadMs`: slot `slot` of `slots` processes takes
   * every `slots`-th moment. A client renews its state at a 3 s tick of its own, once the state
   * is 15 s old, so clients made together renew together, and a server that merges what comes in
   * one turn (Hocuspocus does) would merge a batch's renewals as no room of people who came in
   * one by one lets it. Returns once every client holds every client's state: the joins are over.
   */
  async presenceOpen(a: Target & { room: string; clients: number; total: number; slot: number; slots: number; spreadMs: number; timeoutMs: number }): Promise<{ ms: number }> {
    const started = performance.now()
    const deadline = started + a.spreadMs + a.timeoutMs
    const every = a.spreadMs / a.total
    const opened: BenchClient[] = []
    for (let j = 0; j < a.clients; j++) {
      const wait = started + (j * a.slots + a.slot) * every - performance.now()
      if (wait > 1) await sleep(wait)
      const client = createClient(a.kind, a.urls[0]!, a.room, { echo: this.echo, user: { name: `user-${a.slot}-${j}`, color: '#30bced' } })
      opened.push(client)
      this.clients.push(client)
    }
    this.idle.push(...opened)
    await withTimeout(Promise.all(opened.map((c) => c.whenSynced())), Math.max(1, deadline - performance.now()), `opening ${a.clients} clients`)
    const everyone = await waitFor(() => opened.every((c) => c.awareness.getStates().size === a.total), Math.max(1, deadline - performance.now()), 50)
    if (!everyone) throw new Error(`not every client heard of all ${a.total} within ${((deadline - started) / 1000).toFixed(0)} s`)
    return { ms: performance.now() - started }
  }

  /** Starts the window: from now on every idle client counts what its awareness receives. */
  presenceWatch(): void {
    const counts: PresenceCounts = { messages: 0, entries: 0, changes: 0, timedOut: 0, renewals: 0 }
    const detach: Array<() => void> = []
    for (const c of this.idle) {
      const onUpdate = ({ added, updated, removed }: AwarenessChanges, origin: unknown) => {
        // 'local': the client's own renewal; 'timeout': its own check dropping a state that was
        // not renewed in 30 s. Any other origin is the provider applying a frame from the server,
        // and an 'update' event comes once per frame that changed something.
        if (origin === 'local') counts.renewals++
        else if (origin === 'timeout') counts.timedOut += removed.length
        else {
          counts.messages++
          counts.entries += added.length + updated.length + removed.length
        }
      }
      // 'change' leaves out pure renewals: in an idle room it should stay at 0.
      const onChange = (_: AwarenessChanges, origin: unknown) => {
        if (origin !== 'local' && origin !== 'timeout') counts.changes++
      }
      c.awareness.on('update', onUpdate)
      c.awareness.on('change', onChange)
      detach.push(() => {
        c.awareness.off('update', onUpdate)
        c.awareness.off('change', onChange)
      })
    }
    this.presence = { counts, drops: this.presenceDrops(), cpu: process.cpuUsage(), t0: performance.now(), detach: () => detach.forEach((off) => off()) }
  }

  /** Ends the window: what the idle clients received, and this process's CPU over it. */
  async presenceWatchEnd(): Promise<PresenceResult> {
    const { counts, drops, cpu, t0, detach } = this.presence!
    const ms = performance.now() - t0
    const used = process.cpuUsage(cpu)
    detach()
    this.presence = null
    return { ...counts, clients: this.idle.length, ms, drops: this.presenceDrops() - drops, clientCpuMs: (used.user + used.system) / 1000 }
  }

  /** Connections the idle clients have lost so far: a drop in the window also removes states. */
  private presenceDrops(): number {
    return this.idle.reduce((sum, c) => sum + c.drops, 0)
  }
}

/** How a reader's latency ends, for the scenarios' descriptions (see arrival.ts). */
export const ARRIVAL =
  'stamped as the socket is read and decoded afterwards, so that no reader waits while the load process decodes the ' +
  "frames of the readers before it; a reader's own decoding, the same whatever the server, is not counted"

/** What the readers of one load process saw in a measured interval, and what the process used. */
export interface Watched {
  readonly seen: Seen[]
  readonly clientCpuMs: number
  readonly clientLagP99Ms: number
}

/** A typist's client id and its clock after its last keystroke in `typed`: what readers must reach. */
export function lastClock(typed: Typed): [number, number] {
  return [typed.clientId, typed.ends.at(-1) ?? 0]
}

/** One interval's latencies from every load process's records; client cost summed, lag the worst. */
export function typeResult(typed: readonly Typed[], watched: readonly Watched[], typedMs: number): TypeResult {
  const timed = timeKeystrokes(typed, watched.flatMap((w) => w.seen))
  return {
    clientLagP99Ms: Math.max(0, ...watched.map((w) => w.clientLagP99Ms)),
    latency: summarize(timed.all),
    across: summarize(timed.across),
    expected: timed.expected,
    delivered: timed.all.length,
    typedMs,
    clientCpuMs: watched.reduce((sum, w) => sum + w.clientCpuMs, 0),
  }
}

export interface TypeResult {
  readonly clientLagP99Ms: number
  readonly latency: LatencySummary
  /** Only the keystrokes whose typist and reader are on different instances (count 0 otherwise). */
  readonly across: LatencySummary
  readonly expected: number
  readonly delivered: number
  readonly typedMs: number
  readonly clientCpuMs: number
}

export interface ReplayResult {
  readonly ms: number
  readonly sendMs: number
  readonly clientCpuMs: number
  readonly updates: number
}

/** How long a replay's watcher may hear nothing before the replay is failed as stalled. */
const REPLAY_STALL_MS = 10_000
/**
 * How long a synced client's text may stay short of the document before openOnce gives up. The
 * reference server's cold opens, the only ones that stop short, send their last text within 2 s.
 */
const STALLED_MS = 3000
class Stalled extends Error {}

export interface OpenResult {
  readonly ms: number
  readonly syncedMs: number
  readonly ok: boolean
  readonly length: number
  /** When the client's text last changed (ms from the start): for a partial restore, how long it took. */
  readonly lastChangeMs: number
}

/** What y-protocols' Awareness passes its 'update' and 'change' listeners: client ids. */
interface AwarenessChanges {
  readonly added: number[]
  readonly updated: number[]
  readonly removed: number[]
}

/** What the idle clients of one load process counted in a presence window. */
export interface PresenceCounts {
  /** Awareness frames from the server that changed something at the client (renewed a state, at least). */
  messages: number
  /** Client states those frames carried that the client applied. */
  entries: number
  /** Frames that changed a state's content, not only renewed it. */
  changes: number
  /** Other clients' states a client dropped because no renewal came within 30 s. */
  timedOut: number
  /** Renewals (or other changes) of their own state that the clients made. */
  renewals: number
}

export interface PresenceResult extends PresenceCounts {
  readonly clients: number
  /** The window as this process measured it. */
  readonly ms: number
  /** Connections lost in the window. */
  readonly drops: number
  readonly clientCpuMs: number
}

export interface StormResult {
  readonly ms: number
  readonly synced: number
  readonly clients: number
  readonly intact: number
  readonly perClient: LatencySummary
}
