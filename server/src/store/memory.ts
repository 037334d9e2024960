/** An in-memory Store for unit tests: same contract as SQLite, nothing on disk. */
import type { Store, StoredDoc } from './store.js'

interface Entry {
  snapshot: { seq: number; data: Uint8Array } | null
  log: Array<{ seq: number; data: Uint8Array }>
}

export class MemoryStore implements Store {
  private readonly docs = new Map<string, Entry>()
  private closed = false

  async load(name: string): Promise<StoredDoc | null> {
    return this.loadAfter(name, 0)
  }

  async loadAfter(name: string, after: number): Promise<StoredDoc | null> {
    this.assertOpen()
    const entry = this.docs.get(name)
    if (!entry) return after > 0 ? { updates: [], seq: after, tail: 0 } : null
    const snapshot = entry.snapshot && entry.snapshot.seq > after ? entry.snapshot : null
    const from = Math.max(after, snapshot?.seq ?? 0, entry.snapshot?.seq ?? 0)
    const log = entry.log.filter((u) => u.seq > from)
    const updates = log.map((u) => u.data)
    if (snapshot) updates.unshift(snapshot.data)
    return { updates, seq: Math.max(after, lastSeq(entry)), tail: log.length }
  }

  async append(name: string, updates: readonly Uint8Array[]): Promise<number> {
    this.assertOpen()
    let entry = this.docs.get(name)
    if (!entry) this.docs.set(name, (entry = { snapshot: null, log: [] }))
    let seq = lastSeq(entry)
    // Copy: callers may reuse their buffers, a real store would not see later changes either.
    for (const data of updates) entry.log.push({ seq: ++seq, data: data.slice() })
    return seq
  }

  async compact(name: string, snapshot: Uint8Array, upTo: number): Promise<void> {
    this.assertOpen()
    const entry = this.docs.get(name)
    if (!entry || (entry.snapshot && entry.snapshot.seq >= upTo)) return
    entry.snapshot = { seq: upTo, data: snapshot.slice() }
    entry.log = entry.log.filter((u) => u.seq > upTo)
  }

  async ping(): Promise<void> {
    this.assertOpen()
  }

  async close(): Promise<void> {
    this.closed = true
  }

  private assertOpen() {
    if (this.closed) throw new Error('store is closed')
  }
}

function lastSeq(entry: Entry): number {
  return entry.log.at(-1)?.seq ?? entry.snapshot?.seq ?? 0
}
