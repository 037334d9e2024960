/**
 * A Store wrapper that counts calls and lets a test hold or fail them, to drive the room and the
 * registry through the orderings that matter (a commit in flight, a failed write, a slow load).
 */
import { MemoryStore } from '../../src/store/memory.js'
import type { Store, StoredDoc } from '../../src/store/store.js'

type Method = 'load' | 'loadAfter' | 'append' | 'compact'

export interface StoreCall {
  readonly method: Method
  readonly name: string
  /** For append: the updates; for compact: [snapshot]. */
  readonly data: readonly Uint8Array[]
  /** For compact: the last sequence number folded in; for loadAfter: the one to start after. */
  readonly upTo?: number
}

export class InstrumentedStore implements Store {
  readonly inner: Store
  readonly calls: StoreCall[] = []
  /**
   * Runs before the inner call, once per call; whatever it returns is awaited, and if it throws
   * (or rejects) the call fails without reaching the inner store.
   */
  before: Partial<Record<Method, (call: StoreCall) => unknown>> = {}
  /**
   * Runs after the inner call succeeded, before its result is returned: holding it here models
   * an answer that was read at one moment and arrives later (a slow network to the database).
   */
  after: Partial<Record<Method, (call: StoreCall) => unknown>> = {}

  constructor(inner: Store = new MemoryStore()) {
    this.inner = inner
  }

  count(method: Method): number {
    return this.calls.filter((c) => c.method === method).length
  }

  load(name: string): Promise<StoredDoc | null> {
    return this.run({ method: 'load', name, data: [] }, () => this.inner.load(name))
  }

  loadAfter(name: string, seq: number): Promise<StoredDoc | null> {
    return this.run({ method: 'loadAfter', name, data: [], upTo: seq }, () => this.inner.loadAfter(name, seq))
  }

  append(name: string, updates: readonly Uint8Array[]): Promise<number> {
    return this.run({ method: 'append', name, data: updates.slice() }, () => this.inner.append(name, updates))
  }

  compact(name: string, snapshot: Uint8Array, upTo: number): Promise<void> {
    return this.run({ method: 'compact', name, data: [snapshot], upTo }, () => this.inner.compact(name, snapshot, upTo))
  }

  ping(): Promise<void> {
    return this.inner.ping()
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  private async run<T>(call: StoreCall, inner: () => Promise<T>): Promise<T> {
    this.calls.push(call)
    const before = this.before[call.method]
    if (before) await before(call)
    const result = await inner()
    const after = this.after[call.method]
    if (after) await after(call)
    return result
  }
}
