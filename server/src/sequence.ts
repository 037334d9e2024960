/**
 * Which stored sequence numbers a room's document already holds. Updates reach a room out of
 * order when several instances write one document (its own commits, Redis, catch-up reads), so
 * this keeps the highest number below which nothing is missing, plus the ranges seen beyond it.
 * Compaction may only fold up to `known`, and a gap above it is what catch-up fetches.
 */
export class SequenceTracker {
  private knownUpTo: number
  /** Disjoint ranges above `known + 1`, sorted by first. */
  private ahead: Array<[first: number, last: number]> = []

  constructor(known: number) {
    this.knownUpTo = known
  }

  /** Every update with a sequence number up to this is in the document. */
  get known(): number {
    return this.knownUpTo
  }

  /** Whether something beyond `known` arrived while something before it did not. */
  get hasGap(): boolean {
    return this.ahead.length > 0
  }

  /** Whether every number in [first, last] is already held. */
  covers(first: number, last: number): boolean {
    if (last <= this.knownUpTo) return true
    return this.ahead.some(([f, l]) => f <= Math.max(first, this.knownUpTo + 1) && l >= last)
  }

  /** Records that the updates numbered first..last are in the document. */
  add(first: number, last: number): void {
    if (last <= this.knownUpTo) return
    // What a room's own commits always are: the numbers right after `known`, with nothing ahead.
    // Without arrays: a room calls this at every commit, and arrays it kept (`ahead` made anew)
    // would outlive the turn.
    if (first <= this.knownUpTo + 1 && this.ahead.length === 0) {
      this.knownUpTo = last
      return
    }
    this.ahead.push([first, last])
    this.ahead.sort((a, b) => a[0] - b[0])
    const merged: Array<[number, number]> = []
    for (const range of this.ahead) {
      const top = merged.at(-1)
      if (top && range[0] <= top[1] + 1) top[1] = Math.max(top[1], range[1])
      else merged.push([range[0], range[1]])
    }
    while (merged.length > 0 && merged[0]![0] <= this.knownUpTo + 1) {
      this.knownUpTo = Math.max(this.knownUpTo, merged.shift()![1])
    }
    this.ahead = merged
  }

  /** Records that everything up to `seq` is in the document (after a catch-up read). */
  advanceTo(seq: number): void {
    if (seq <= this.knownUpTo) return
    this.add(this.knownUpTo + 1, seq)
  }
}
