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
    this.assertOpen()
    const entry = this.docs.get(name)
    if (!entry) return null
    const updates = entry.log.map((u) => u.data)
    if (entry.snapshot) updates.unshift(entry.snapshot.data)
    return { updates, seq: lastSeq(entry), tail: entry.log.length }
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
