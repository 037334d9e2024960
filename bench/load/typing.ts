/**
 * Keystrokes with a send time, and readers that notice when each one has arrived.
 *
 * Nothing is embedded in the document: a typist records, per keystroke, the send time
 * (performance.now(), this process's monotonic clock) and its own Yjs clock after the edit. A
 * reader holds the typist's keystroke i as soon as its doc's state vector reaches that clock, so
 * a server that merges several relays into one frame is still measured per keystroke.
 */
import * as Y from 'yjs'
import type { BenchClient } from './client.js'

const PROSE =
  'Real-time collaboration keeps everyone on the same page. Each keystroke travels to the server, ' +
  'is stored, and reaches every other reader within milliseconds; cursors follow along.\n'

export class Typist {
  readonly client: BenchClient
  readonly clientId: number
  /** Yjs clock of this client after keystroke i. */
  readonly ends: number[] = []
  /** performance.now() when keystroke i was handed to the provider. */
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

  /** Types one character at this typist's cursor, then moves the cursor (an awareness update). */
  keystroke(): void {
    const { doc, text, awareness } = this.client
    const index = this.cursor ? (Y.createAbsolutePositionFromRelativePosition(this.cursor, doc)?.index ?? text.length) : text.length
    const ch = PROSE[this.offset++ % PROSE.length]!
    this.sent.push(performance.now())
    text.insert(index, ch)
    this.ends.push(Y.getState(doc.store, this.clientId))
    this.cursor = Y.createRelativePositionFromTypeIndex(text, index + 1)
    const pos = Y.relativePositionToJSON(this.cursor)
    awareness.setLocalStateField('cursor', { anchor: pos, head: pos })
  }
}

/** Latencies seen by readers, in ms. */
export class Samples {
  private values: number[] = []
  add(ms: number): void {
    this.values.push(ms)
  }
  get count(): number {
    return this.values.length
  }
  reset(): void {
    this.values = []
  }
  summary(): LatencySummary {
    return summarize(this.values)
  }
}

export interface LatencySummary {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

export function summarize(values: number[]): LatencySummary {
  if (values.length === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN, mean: NaN }
  const sorted = Float64Array.from(values).sort()
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  let sum = 0
  for (const v of sorted) sum += v
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]!, mean: sum / sorted.length }
}

/**
 * Watches one reader's doc for the keystrokes of the given typists. Every latency goes to
 * `samples`; those of typists on another instance of the server (a cluster) also to `across`.
 */
export class Reader {
  readonly client: BenchClient
  private readonly typists: Typist[]
  private readonly next: number[]
  private readonly samples: Samples
  private readonly across: Samples

  constructor(client: BenchClient, typists: Typist[], samples: Samples, across: Samples) {
    this.client = client
    this.typists = typists.filter((t) => t.client !== client)
    this.next = this.typists.map((t) => t.count)
    this.samples = samples
    this.across = across
    client.doc.on('update', (_update: Uint8Array, origin: unknown) => {
      // Local changes (this client's own keystrokes) carry no news from others.
      if (origin === null) return
      this.check()
    })
  }

  /** Skips keystrokes typed before now: only what is typed from here on is measured. */
  catchUp(): void {
    this.typists.forEach((t, j) => (this.next[j] = t.count))
  }

  /** Keystrokes not yet seen by this reader. */
  get missing(): number {
    let n = 0
    this.typists.forEach((t, j) => (n += t.count - this.next[j]!))
    return n
  }

  private check(): void {
    const now = performance.now()
    const store = this.client.doc.store
    for (let j = 0; j < this.typists.length; j++) {
      const t = this.typists[j]!
      let i = this.next[j]!
      if (i >= t.count) continue
      const state = Y.getState(store, t.clientId)
      const across = t.client.instance !== this.client.instance
      while (i < t.count && state >= t.ends[i]!) {
        this.samples.add(now - t.sent[i]!)
        if (across) this.across.add(now - t.sent[i]!)
        i++
      }
      this.next[j] = i
    }
  }
}
