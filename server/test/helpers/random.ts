/**
 * Seeded randomness. Every test that uses randomness prints its seed; TEST_SEED=<n> replays it.
 */
import type { TestContext } from 'node:test'

/** mulberry32: a tiny, fast 32-bit PRNG; plenty for choosing edits. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Rng {
  readonly seed: number
  private readonly next: () => number

  constructor(seed: number) {
    this.seed = seed >>> 0
    this.next = mulberry32(this.seed)
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next()
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1)
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[this.int(items.length)]!
  }

  /** A short lowercase word, sometimes with a space or newline, sometimes non-ASCII. */
  word(maxLength = 6): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz     \néü'
    let out = ''
    const length = 1 + this.int(maxLength)
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)]
    return out
  }
}

/** The run's base seed: TEST_SEED when set, else a fresh one. */
export const baseSeed: number = (() => {
  const fromEnv = process.env['TEST_SEED']
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const n = Number(fromEnv)
    if (!Number.isInteger(n)) throw new Error(`TEST_SEED must be an integer, got ${JSON.stringify(fromEnv)}`)
    return n >>> 0
  }
  return (Date.now() ^ (process.pid << 16)) >>> 0
})()

function hashString(text: string): number {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return h >>> 0
}

/**
 * A PRNG for one test, derived from the base seed and the test's name (so tests do not share a
 * stream and adding one does not change the others). Prints the base seed for replay.
 */
export function seededRng(t: TestContext): Rng {
  const line = `seed ${baseSeed} (replay with TEST_SEED=${baseSeed}) for "${t.name}"`
  t.diagnostic(line)
  return new Rng((baseSeed ^ hashString(t.name)) >>> 0)
}
