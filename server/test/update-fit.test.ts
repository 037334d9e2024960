/**
 * update-fit: what an update asks of the document, read before it is applied.
 * - fitsWithoutWaiting may say "no" when Yjs would have integrated everything, never "yes" when
 *   Yjs leaves something waiting; and it says "yes" to a writer's updates taken in order.
 * - continuesRun admits only updates that, taken one by one in that order, each fit: the run the
 *   room merges and applies at once never leaves anything waiting.
 * - safeNumbers refuses a client, clock or length past 2^53, where lib0 would go wrong.
 * Over seeded random edits by writers who see each other's updates late and out of order.
 */
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { continuesRun, fitsWithoutWaiting, newReach, safeNumbers } from '../src/update-fit.js'
import { varUint } from './helpers/hostile.js'
import { seededRng, type Rng } from './helpers/random.js'
import { test } from './helpers/test.js'

/** Three writers' updates, each writer seeing the others' at random moments. */
function writersUpdates(rng: Rng, steps: number): Uint8Array[][] {
  const writers = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
  writers.forEach((w, i) => (w.clientID = 7 + i * 1_000_003))
  const sent = writers.map(() => [] as Uint8Array[])
  writers.forEach((w, i) => w.on('update', (u: Uint8Array, origin: unknown) => origin !== 'peer' && sent[i]!.push(u)))
  for (let step = 0; step < steps; step++) {
    const i = rng.int(writers.length)
    const w = writers[i]!
    const text = w.getText('text')
    const action = rng.int(10)
    if (action < 5) text.insert(rng.int(text.length + 1), rng.word(1 + rng.int(3)))
    else if (action < 7 && text.length > 0) text.delete(rng.int(text.length), 1 + rng.int(Math.min(3, text.length)))
    else if (action < 8) w.getMap('map').set(rng.word(1), rng.int(100))
    else {
      // Catch up with another writer.
      const from = writers[(i + 1 + rng.int(2)) % writers.length]!
      Y.applyUpdate(w, Y.encodeStateAsUpdate(from, Y.encodeStateVector(w)), 'peer')
    }
  }
  return sent
}

const waits = (doc: Y.Doc) => doc.store.pendingStructs !== null || doc.store.pendingDs !== null

/**
 * 20 rounds of three writers' updates, read by a fresh server doc from one writer's queue at a
 * time, picked at random; `read` takes what one read of that queue holds.
 */
function* serverReads(rng: Rng, read: (queue: Uint8Array[]) => Uint8Array[]): Generator<{ round: number; server: Y.Doc; updates: Uint8Array[] }> {
  for (let round = 0; round < 20; round++) {
    const queues = writersUpdates(rng, 150)
    const server = new Y.Doc()
    while (queues.some((q) => q.length > 0)) yield { round, server, updates: read(rng.pick(queues.filter((q) => q.length > 0))) }
  }
}

test('1. fitsWithoutWaiting: never yes when Yjs leaves something waiting, and yes for every update taken in order', (t) => {
  const rng = seededRng(t)
  let yes = 0
  let no = 0
  // The writers' updates one at a time, interleaved, sometimes one out of its writer's order.
  for (const { round, server, updates: [update] } of serverReads(rng, (q) => q.splice(q.length > 1 && rng.int(8) === 0 ? 1 : 0, 1))) {
    const before = waits(server)
    const fits = fitsWithoutWaiting(server, Y.decodeUpdate(update!))
    Y.applyUpdate(server, update!)
    if (fits) {
      yes++
      assert.ok(before || !waits(server), `round ${round}: said to fit, but Yjs left something waiting`)
    } else no++
  }
  assert.ok(no > 0, 'no update ever came before what it builds on: the test proves nothing')

  // A writer's own updates, each after the one before, on a doc that holds all the others.
  const sent = writersUpdates(rng, 200)
  const server = new Y.Doc()
  for (const update of sent[1]!.concat(sent[2]!)) Y.applyUpdate(server, update)
  for (const update of sent[0]!) {
    assert.equal(fitsWithoutWaiting(server, Y.decodeUpdate(update)), true, 'an update taken in order')
    Y.applyUpdate(server, update)
    yes++
  }
  t.diagnostic(`${yes} fitted, ${no} did not`)
})

test('2. fitsWithoutWaiting: a gap in the clock, a missing origin, a deletion of what is not there', () => {
  const writer = new Y.Doc()
  writer.clientID = 1
  const updates: Uint8Array[] = []
  writer.on('update', (u: Uint8Array) => updates.push(u))
  const text = writer.getText('text')
  text.insert(0, 'a')
  text.insert(1, 'b')
  text.delete(0, 1)
  const [a, b, deleteA] = updates as [Uint8Array, Uint8Array, Uint8Array]
  const server = new Y.Doc()
  assert.equal(fitsWithoutWaiting(server, Y.decodeUpdate(b)), false, 'b starts past the clock the doc holds')
  assert.equal(fitsWithoutWaiting(server, Y.decodeUpdate(deleteA)), false, 'deletes a, which the doc does not hold')
  assert.equal(fitsWithoutWaiting(server, Y.decodeUpdate(a)), true)
  Y.applyUpdate(server, a)
  assert.equal(fitsWithoutWaiting(server, Y.decodeUpdate(b)), true)
  assert.equal(fitsWithoutWaiting(server, Y.decodeUpdate(deleteA)), true)

  // Another writer's character typed after b, which this doc has not seen.
  const other = new Y.Doc()
  other.clientID = 2
  Y.applyUpdate(other, Y.encodeStateAsUpdate(writer))
  const afterB: Uint8Array[] = []
  other.on('update', (u: Uint8Array) => afterB.push(u))
  other.getText('text').insert(other.getText('text').length, 'c')
  const server2 = new Y.Doc()
  Y.applyUpdate(server2, a)
  assert.equal(fitsWithoutWaiting(server2, Y.decodeUpdate(afterB[0]!)), false, 'its origin (b) is missing')
})

test('3. continuesRun: every update it admits into a run fits in turn, and it admits a typist in order', (t) => {
  const rng = seededRng(t)
  let admitted = 0
  let refused = 0
  // Several updates a read, as the room gets them from one socket; sometimes in reverse.
  const severalAtOnce = (q: Uint8Array[]) => {
    const read = q.splice(0, 1 + rng.int(6))
    return read.length > 1 && rng.int(4) === 0 ? read.reverse() : read
  }
  for (const { round, server, updates: read } of serverReads(rng, severalAtOnce)) {
    if (waits(server)) {
      for (const update of read) Y.applyUpdate(server, update)
      continue
    }
    const reach = newReach()
    let i = 0
    for (; i < read.length && continuesRun(server.store, Y.decodeUpdate(read[i]!), reach); i++) {
      // Taken one by one in the run's order, each fits: so the run merged fits too.
      assert.equal(fitsWithoutWaiting(server, Y.decodeUpdate(read[i]!)), true, `round ${round}: admitted, but does not fit in turn`)
      Y.applyUpdate(server, read[i]!)
      assert.equal(waits(server), false)
      admitted++
    }
    refused += read.length - i
    for (; i < read.length; i++) Y.applyUpdate(server, read[i]!)
  }
  assert.ok(admitted > 0 && refused > 0, `admitted ${admitted}, refused ${refused}: both must happen`)

  // One typist's keystrokes in order all continue the run; the same again are refused (their
  // clocks are behind what the run reached).
  const typist = new Y.Doc()
  const keys: Uint8Array[] = []
  typist.on('update', (u: Uint8Array) => keys.push(u))
  for (const ch of 'hello') typist.getText('text').insert(typist.getText('text').length, ch)
  const server = new Y.Doc()
  const reach = newReach()
  for (const key of keys) assert.equal(continuesRun(server.store, Y.decodeUpdate(key), reach), true)
  assert.equal(continuesRun(server.store, Y.decodeUpdate(keys[0]!), reach), false, 'a keystroke the run holds already')
})

/** A one-struct update written by hand: a string item `x` at the root type "text". */
function stringItem(client: number, clock: number): Uint8Array {
  const name = [4, ...'text'].map((c) => (typeof c === 'number' ? c : c.charCodeAt(0)))
  return new Uint8Array([1, 1, ...varUint(client), ...varUint(clock), 4, 1, ...name, 1, 120, 0])
}

test('4. safeNumbers: a client or clock at 2^53, or a struct that ends there, is refused', () => {
  assert.equal(safeNumbers(Y.decodeUpdate(stringItem(5, 0))), true)
  assert.equal(safeNumbers(Y.decodeUpdate(stringItem(5, 2 ** 53 - 2))), true, 'ends at 2^53 - 1')
  assert.equal(safeNumbers(Y.decodeUpdate(stringItem(5, 2 ** 53 - 1))), false, 'ends at 2^53')
  assert.equal(safeNumbers(Y.decodeUpdate(stringItem(5, 2 ** 53))), false, 'clock 2^53')
  assert.equal(safeNumbers(Y.decodeUpdate(stringItem(2 ** 53, 0))), false, 'client 2^53')
  // A delete set range past 2^53: no structs, one client with one range.
  const deletes = (clock: number, len: number) => new Uint8Array([0, 1, 5, 1, ...varUint(clock), ...varUint(len)])
  assert.equal(safeNumbers(Y.decodeUpdate(deletes(3, 4))), true)
  assert.equal(safeNumbers(Y.decodeUpdate(deletes(2 ** 53 - 2, 2))), false, 'a range that ends past 2^53 - 1')
})
