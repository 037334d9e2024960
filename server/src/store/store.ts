/**
 * The persistence contract every backend meets (tested once, in test/store-contract.ts, against
 * each of them). A document is a log of Yjs updates with increasing sequence numbers, optionally
 * preceded by a snapshot that stands for every update up to its sequence number.
 */
export interface StoredDoc {
  /** Snapshot first (when there is one), then the updates after it, in order. */
  readonly updates: Uint8Array[]
  /** Sequence number of the last update; 0 for a document with nothing stored. */
  readonly seq: number
  /** How many updates follow the snapshot: what a compaction would fold away. */
  readonly tail: number
}

export interface Store {
  /** The stored document, or null when nothing was ever written under this name. */
  load(name: string): Promise<StoredDoc | null>
  /**
   * What was stored after `seq`: the updates with a higher sequence number, preceded by the
   * snapshot when one covers more than `seq` (a superset, harmless to apply). Lets an instance
   * catch up on what other instances stored without reloading the whole document.
   */
  loadAfter(name: string, seq: number): Promise<StoredDoc | null>
  /**
   * Appends updates atomically (all or none) and durably, resolving with the sequence number of
   * the last one. Callers relay an update only after this resolves.
   *
   * `last`, when given, is the sequence number the caller believes the document's last stored
   * update has: a store may number the new ones from it instead of reading it. A belief that is
   * behind (another process wrote since) must not overwrite anything: the store then reads the
   * number after all. One that is ahead can only leave numbers unused, which nothing relies on.
   */
  append(name: string, updates: readonly Uint8Array[], last?: number): Promise<number>
  /**
   * Optional: append(), for a store that can finish it at once: durable when it returns the
   * sequence number of the last update; null when it cannot now (then nothing was written, and
   * the caller calls append()). Throws where append() would reject. The caller then relays
   * without waiting for a promise, which (inside a socket read, where the turn's bookkeeping
   * runs first) cost a keystroke 30-60 µs on its way to its readers.
   */
  appendNow?(name: string, updates: readonly Uint8Array[], last?: number): number | null
  /**
   * Optional: runs `appends`, which calls append() for several documents, as one transaction.
   * Each of those appends still settles on its own: rejected at once if it fails by itself, and
   * otherwise only once the whole transaction has committed (rejected if that fails). A store
   * without it commits each append by itself (commit-turn.ts).
   */
  group?(appends: () => void): void
  /**
   * Replaces every update with seq <= upTo by `snapshot`, which must contain all of them. Must be
   * crash-safe: after a crash at any point, load() returns either the old or the new form.
   */
  compact(name: string, snapshot: Uint8Array, upTo: number): Promise<void>
  /** Resolves when the store answers (for /healthz); rejects otherwise. */
  ping(): Promise<void>
  close(): Promise<void>
}
