/**
 * The fan-out envelope between instances: golden bytes for both kinds (so a format change is a
 * deliberate, visible diff, and instances of two versions can be reasoned about), round trips,
 * and rejection of anything malformed. A rejected envelope is dropped and its content is read
 * from the store instead, so strictness loses nothing; accepting a bad one could corrupt a
 * room's SequenceTracker.
 */
import assert from 'node:assert/strict'
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../src/fanout/fanout.js'
import { seededRng } from './helpers/random.js'
import { test } from './helpers/test.js'

const bytes = (...values: number[]) => new Uint8Array(values)

const plain = (envelope: Envelope) => ({
  ...envelope,
  message:
    envelope.message.kind === 'updates'
      ? { ...envelope.message, updates: envelope.message.updates.map((u) => Array.from(u)) }
      : envelope.message.kind === 'awareness'
        ? { ...envelope.message, update: Array.from(envelope.message.update) }
        : envelope.message,
})

const updates: Envelope = {
  from: 'a',
  sentAt: 1,
  message: { kind: 'updates', first: 5, last: 6, updates: [bytes(1), bytes(2, 3)] },
}
// varString('a') • varUint(1) • kind 0 • first 5 • last 6 • n 2 • varByteArray([1]) • varByteArray([2, 3])
const updatesBytes = bytes(0x01, 0x61, 0x01, 0x00, 0x05, 0x06, 0x02, 0x01, 0x01, 0x02, 0x02, 0x03)

const awareness: Envelope = { from: 'bc', sentAt: 300, message: { kind: 'awareness', update: bytes(9, 8) } }
// varString('bc') • varUint(300) = ac 02 • kind 1 • varByteArray([9, 8])
const awarenessBytes = bytes(0x02, 0x62, 0x63, 0xac, 0x02, 0x01, 0x02, 0x09, 0x08)

test('1. golden bytes: an updates envelope', () => {
  assert.deepEqual(encodeEnvelope(updates), updatesBytes)
  assert.deepEqual(plain(decodeEnvelope(updatesBytes)), plain(updates))
})

test('2. golden bytes: an awareness envelope', () => {
  assert.deepEqual(encodeEnvelope(awareness), awarenessBytes)
  assert.deepEqual(plain(decodeEnvelope(awarenessBytes)), plain(awareness))
})

test('2b. golden bytes: a presence query', () => {
  const query: Envelope = { from: 'd', sentAt: 2, message: { kind: 'presence-query' } }
  // varString('d') • varUint(2) • kind 2, and no body
  const queryBytes = bytes(0x01, 0x64, 0x02, 0x02)
  assert.deepEqual(encodeEnvelope(query), queryBytes)
  assert.deepEqual(decodeEnvelope(queryBytes), query)
  assert.throws(() => decodeEnvelope(bytes(0x01, 0x64, 0x02, 0x02, 0x00)), /trailing bytes/)
})

test('3. round trips: real clocks, long instance names, empty and large updates, non-ASCII', (t) => {
  const rng = seededRng(t)
  const cases: Envelope[] = [
    { from: 'host-1234', sentAt: Date.now(), message: { kind: 'updates', first: 1, last: 1, updates: [bytes()] } },
    { from: 'x'.repeat(64), sentAt: 2 ** 52, message: { kind: 'awareness', update: bytes() } },
    { from: 'instance-é', sentAt: 0, message: { kind: 'awareness', update: new Uint8Array(70_000).fill(7) } },
  ]
  for (let i = 0; i < 50; i++) {
    const n = 1 + rng.int(5)
    const first = 1 + rng.int(1_000_000)
    cases.push({
      from: `node-${rng.int(100)}`,
      sentAt: 1_700_000_000_000 + rng.int(1e9),
      message: {
        kind: 'updates',
        first,
        last: first + n - 1,
        updates: Array.from({ length: n }, () => Uint8Array.from({ length: rng.int(300) }, () => rng.int(256))),
      },
    })
  }
  for (const envelope of cases) assert.deepEqual(plain(decodeEnvelope(encodeEnvelope(envelope))), plain(envelope))
})

test('4. every truncation of a valid envelope is rejected', () => {
  for (const whole of [updatesBytes, awarenessBytes]) {
    for (let cut = 0; cut < whole.length; cut++) {
      assert.throws(() => decodeEnvelope(whole.subarray(0, cut)), `cut at ${cut} of ${whole.length} accepted`)
    }
  }
})

test('5. malformed envelopes are rejected', () => {
  const cases: Array<[string, Uint8Array]> = [
    ['unknown kind 2', bytes(0x01, 0x61, 0x01, 0x02, 0x02, 0x09, 0x08)],
    ['unknown kind 100', bytes(0x01, 0x61, 0x01, 0x64)],
    ['count larger than the range', bytes(0x01, 0x61, 0x01, 0x00, 0x05, 0x06, 0x03, 0x01, 0x01, 0x02, 0x02, 0x03, 0x01, 0x04)],
    ['count smaller than the range', bytes(0x01, 0x61, 0x01, 0x00, 0x05, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x03)],
    // n = last - first + 1 = 0 passes a count check yet names no update: a room would record
    // an empty range 5..4 and see a gap (a useless store read) until it knows 4.
    ['empty range (last < first)', bytes(0x01, 0x61, 0x01, 0x00, 0x05, 0x04, 0x00)],
    ['sequence number 0', bytes(0x01, 0x61, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01)],
    ['over-long varint', bytes(0x01, 0x61, ...new Array(11).fill(0xff))],
    ['length past the end', bytes(0x01, 0x61, 0x01, 0x01, 0x05, 0x09)],
    ['trailing bytes after an awareness envelope', bytes(...awarenessBytes, 0x00)],
    ['trailing bytes after an updates envelope', bytes(...updatesBytes, 0x07, 0x07)],
  ]
  for (const [what, envelope] of cases) assert.throws(() => decodeEnvelope(envelope), `${what}: accepted`)
})
