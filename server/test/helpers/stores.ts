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

  constructor(inner: Store = new MemoryStore()) {
    this.inner = inner
  }

  count(method: Method): number {
    return this.calls.filter((c) => c.method === method).length
  }

  async load(name: string): Promise<StoredDoc | null> {
    await this.enter({ method: 'load', name, data: [] })
    return this.inner.load(name)
  }

  async loadAfter(name: string, seq: number): Promise<StoredDoc | null> {
    await this.enter({ method: 'loadAfter', name, data: [], upTo: seq })
    return this.inner.loadAfter(name, seq)
  }

  async append(name: string, updates: readonly Uint8Array[]): Promise<number> {
    await this.enter({ method: 'append', name, data: updates.slice() })
    return this.inner.append(name, updates)
  }

  async compact(name: string, snapshot: Uint8Array, upTo: number): Promise<void> {
    await this.enter({ method: 'compact', name, data: [snapshot], upTo })
    return this.inner.compact(name, snapshot, upTo)
  }

  ping(): Promise<void> {
    return this.inner.ping()
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  private async enter(call: StoreCall): Promise<void> {
    this.calls.push(call)
    const hook = this.before[call.method]
    if (hook) await hook(call)
  }
}
