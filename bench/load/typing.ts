/**
 * Keystrokes with a send time, and readers that note when each one has arrived.
 *
 * Nothing is embedded in the document: a typist records, per keystroke, the send time and its own
 * Yjs clock after the edit; a reader records when its doc's state vector for that typist grew.
 * Keystroke i has reached a reader at the first moment that state reaches its clock, so a server
 * that merges several relays into one frame is still measured per keystroke. Typist and reader
 * may live in different load processes: both read `clock()`, which every process on the machine
 * shares, and the harness matches the two records (timeKeystrokes).
 */
import * as Y from 'yjs'
import type { BenchClient } from './client.js'
import { clock } from './clock.js'

const PROSE =
  'Real-time collaboration keeps everyone on the same page. Each keystroke travels to the server, ' +
  'is stored, and reaches every other reader within milliseconds; cursors follow along.\n'

export class Typist {
  readonly client: BenchClient
  readonly clientId: number
  /** Yjs clock of this client after keystroke i. */
  readonly ends: number[] = []
  /** clock() when keystroke i was handed to the provider. */
  readonly sent: number[] = []
  private offset: number
  private cursor: Y.RelativePosition | null = null

  constructor(client: BenchClient, seed: number) {
    this.client = client
    this.clientId = client.doc.clientID
    this.offset = (seed * 37) % PROSE.length
  }

  get count(): number {
    return this.sent.length
  }

  /** Keystrokes from `from` on, as timeKeystrokes reads them. */
  typedSince(from: number): Typed {
    return { clientId: this.clientId, instance: this.client.instance, sent: this.sent.slice(from), ends: this.ends.slice(from) }
  }

  /** Types one character at this typist's cursor, then moves the cursor (an awareness update). */
  keystroke(): void {
    const { doc, text, awareness } = this.client
    const index = this.cursor ? (Y.createAbsolutePositionFromRelativePosition(this.cursor, doc)?.index ?? text.length) : text.length
    const ch = PROSE[this.offset++ % PROSE.length]!
    this.sent.push(clock())
    text.insert(index, ch)
    this.ends.push(Y.getState(doc.store, this.clientId))
    // Just after the character typed, tied to it (assoc -1), so that the state is new at every
    // keystroke. Tied to what follows (the default), a caret at the end of the text is the same
    // position ("the end") whatever was typed, and a server that holds a state sent again
    // unchanged as a renewal (Tandem does, for up to 2 s) would relay none of these moves.
    this.cursor = Y.createRelativePositionFromTypeIndex(text, index + 1, -1)
    const pos = Y.relativePositionToJSON(this.cursor)
    awareness.setLocalStateField('cursor', { anchor: pos, head: pos })
  }
}

/** One typist's keystrokes in a measured interval: send time and Yjs clock after each. */
export interface Typed {
  readonly clientId: number
  readonly instance: number
  readonly sent: readonly number[]
  readonly ends: readonly number[]
}

/** What one reader saw of one typist: the moments its doc's state for that typist grew. */
export interface Seen {
  readonly clientId: number
  /** The reader's instance of the server. */
  readonly instance: number
  readonly states: readonly number[]
  readonly times: readonly number[]
}

export interface LatencySummary {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN, mean: NaN }
  const sorted = Float64Array.from(values).sort()
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  let sum = 0
  for (const v of sorted) sum += v
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]!, mean: sum / sorted.length }
}

export interface Timed {
  /** Keystrokes that should have reached a reader: each typist's count times the readers watching it. */
  readonly expected: number
  /** Latency in ms of every keystroke at every reader that got it. */
  readonly all: number[]
  /** The same, only where typist and reader are on different instances of the server (a cluster). */
  readonly across: number[]
}

/** Matches what typists sent with what readers saw: one latency per keystroke per reader. */
export function timeKeystrokes(typed: readonly Typed[], seen: readonly Seen[]): Timed {
  const byId = new Map(typed.map((t) => [t.clientId, t]))
  const all: number[] = []
  const across: number[] = []
  let expected = 0
  for (const s of seen) {
    const t = byId.get(s.clientId)
    if (!t) continue
    expected += t.ends.length
    const crossing = t.instance !== s.instance
    let j = 0
    for (let i = 0; i < t.ends.length; i++) {
      while (j < s.states.length && s.states[j]! < t.ends[i]!) j++
      if (j === s.states.length) break
      const ms = s.times[j]! - t.sent[i]!
      all.push(ms)
      if (crossing) across.push(ms)
    }
  }
  return { expected, all, across }
}

/** Records when a reader's doc grew for each of the typists it watches (not its own client). */
export class Reader {
  readonly client: BenchClient
  private readonly watched: number[]
  private last: number[]
  private states: number[][]
  private times: number[][]

  constructor(client: BenchClient, typistIds: readonly number[]) {
    this.client = client
    this.watched = typistIds.filter((id) => id !== client.doc.clientID)
    this.last = []
    this.states = []
    this.times = []
    this.start()
    client.doc.on('update', (_update: Uint8Array, origin: unknown) => {
      // Local changes (this client's own keystrokes) carry no news from others.
      if (origin === null) return
      this.note()
    })
  }

  /** Forgets what was seen: only what arrives from here on is recorded. */
  start(): void {
    const store = this.client.doc.store
    this.last = this.watched.map((id) => Y.getState(store, id))
    this.states = this.watched.map(() => [])
    this.times = this.watched.map(() => [])
  }

  /** Whether the doc holds each watched typist's state up to `targets` (client id to clock). */
  holds(targets: ReadonlyMap<number, number>): boolean {
    return this.watched.every((id, j) => this.last[j]! >= (targets.get(id) ?? 0))
  }

  seen(): Seen[] {
    return this.watched.map((clientId, j) => ({ clientId, instance: this.client.instance, states: this.states[j]!, times: this.times[j]! }))
  }

  private note(): void {
    // When the bytes that carried this update reached the process, if the socket says.
    const arrived = this.client.arrivedAt()
    const now = Number.isNaN(arrived) ? clock() : arrived
    const store = this.client.doc.store
    for (let j = 0; j < this.watched.length; j++) {
      const state = Y.getState(store, this.watched[j]!)
      if (state <= this.last[j]!) continue
      this.last[j] = state
      this.states[j]!.push(state)
      this.times[j]!.push(now)
    }
  }
}
