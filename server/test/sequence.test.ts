/**
 * SequenceTracker: which stored sequence numbers a room holds when they arrive in any order (its
 * own commits, Redis, catch-up reads). `known` is what compaction may fold away, so it must never
 * run ahead of a missing number; checked case by case and against a brute-force model.
 */
import assert from 'node:assert/strict'
import { SequenceTracker } from '../src/sequence.js'
import { seededRng } from './helpers/random.js'
import { test } from './helpers/test.js'

test('1. starts at what the load read; nothing ahead', () => {
  const empty = new SequenceTracker(0)
  assert.equal(empty.known, 0)
  assert.equal(empty.hasGap, false)
  const loaded = new SequenceTracker(41)
  assert.equal(loaded.known, 41)
  assert.equal(loaded.hasGap, false)
  assert.ok(loaded.covers(1, 41))
  assert.ok(!loaded.covers(42, 42))
})

test('2. in order: known follows every range, single numbers and batches alike', () => {
  const s = new SequenceTracker(0)
  s.add(1, 1)
  assert.equal(s.known, 1)
  s.add(2, 5)
  assert.equal(s.known, 5)
  s.add(6, 6)
  assert.equal(s.known, 6)
  assert.equal(s.hasGap, false)
})

test('3. out of order: a range beyond known+1 waits ahead; filling the hole advances past it', () => {
  const s = new SequenceTracker(3)
  s.add(6, 7)
  assert.equal(s.known, 3, 'known must not skip the missing 4..5')
  assert.equal(s.hasGap, true)
  s.add(5, 5)
  assert.equal(s.known, 3)
  assert.equal(s.hasGap, true)
  s.add(4, 4)
  assert.equal(s.known, 7, 'the hole filled: known jumps over everything held ahead')
  assert.equal(s.hasGap, false)
})

test('4. several gaps: known stops at the first one; ranges ahead merge when they touch or overlap', () => {
  const s = new SequenceTracker(0)
  s.add(10, 12)
  s.add(3, 4)
  s.add(13, 15) // touches 10..12
  s.add(7, 8)
  s.add(8, 9) // overlaps 7..8
  assert.equal(s.known, 0)
  assert.ok(s.covers(10, 15), 'touching ranges merged')
  assert.ok(s.covers(7, 15), 'overlapping ranges merged, and 7..9 touches 10..15')
  assert.ok(!s.covers(4, 7), '5..6 are missing')
  s.add(1, 2)
  assert.equal(s.known, 4, 'stops before 5')
  s.add(5, 6)
  assert.equal(s.known, 15, 'everything from 1 to 15 is held')
  assert.equal(s.hasGap, false)
})

test('5. duplicates and ranges already known change nothing', () => {
  const s = new SequenceTracker(10)
  s.add(3, 7)
  s.add(10, 10)
  assert.equal(s.known, 10)
  assert.equal(s.hasGap, false)
  s.add(14, 14)
  s.add(14, 14)
  assert.equal(s.known, 10)
  s.add(9, 13) // starts inside what is known, runs into the hole
  assert.equal(s.known, 14)
  assert.equal(s.hasGap, false)
})

test('6. covers: true only when every number of the range is held', () => {
  const s = new SequenceTracker(5)
  s.add(8, 10)
  assert.ok(s.covers(1, 5))
  assert.ok(s.covers(5, 5))
  assert.ok(s.covers(8, 10))
  assert.ok(s.covers(9, 9))
  assert.ok(!s.covers(6, 6), '6 is missing')
  assert.ok(!s.covers(6, 8), '6..7 are missing')
  assert.ok(!s.covers(4, 8), 'a range from the known part into the hole')
  assert.ok(!s.covers(8, 11), '11 is beyond everything')
  assert.ok(!s.covers(11, 11))
  s.add(12, 12)
  assert.ok(!s.covers(10, 12), '11 is missing between two held ranges')
})

test('7. advanceTo: a catch-up read up to seq fills every hole below it and merges what was ahead', () => {
  const s = new SequenceTracker(2)
  s.add(5, 6)
  s.add(9, 9)
  s.advanceTo(7)
  assert.equal(s.known, 7)
  assert.equal(s.hasGap, true, '8 is still missing')
  s.advanceTo(8)
  assert.equal(s.known, 9, 'reaching 8 joins 9, held ahead')
  assert.equal(s.hasGap, false)
  s.advanceTo(4) // behind: a read that raced a newer one
  assert.equal(s.known, 9)
  s.advanceTo(9)
  assert.equal(s.known, 9)
})

test('8. seeded random arrival orders agree with a brute-force set of held numbers', (t) => {
  const rng = seededRng(t)
  for (let round = 0; round < 200; round++) {
    const start = rng.int(5)
    const end = start + 1 + rng.int(60)
    // Cut start+1..end into batches (as commits are), then deliver them in a random order,
    // some twice, with occasional catch-up reads up to a random point.
    const batches: Array<[number, number]> = []
    for (let first = start + 1; first <= end; ) {
      const last = Math.min(end, first + rng.int(4))
      batches.push([first, last])
      first = last + 1
    }
    const deliveries = batches.concat(batches.filter(() => rng.float() < 0.2))
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = rng.int(i + 1)
      ;[deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!]
    }
    const s = new SequenceTracker(start)
    const held = new Set<number>()
    for (let n = 1; n <= start; n++) held.add(n)
    const modelKnown = () => {
      let n = 0
      while (held.has(n + 1)) n++
      return n
    }
    for (const [first, last] of deliveries) {
      if (rng.float() < 0.1) {
        const upTo = rng.range(start, end)
        s.advanceTo(upTo)
        for (let n = 1; n <= upTo; n++) held.add(n)
      }
      s.add(first, last)
      for (let n = first; n <= last; n++) held.add(n)
      const known = modelKnown()
      assert.equal(s.known, known, `round ${round}: known after delivering ${first}..${last}`)
      const ahead = [...held].some((n) => n > known)
      assert.equal(s.hasGap, ahead, `round ${round}: hasGap`)
      const a = rng.range(1, end + 2)
      const b = a + rng.int(5)
      let all = true
      for (let n = a; n <= b; n++) all &&= held.has(n)
      assert.equal(s.covers(a, b), all, `round ${round}: covers(${a}, ${b}) with held ${[...held].sort((x, y) => x - y).join(',')}`)
    }
    assert.equal(s.known, end, `round ${round}: everything delivered`)
    assert.equal(s.hasGap, false)
  }
})
