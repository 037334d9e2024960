/**
 * The wire codec: golden bytes for every encoder (so a change to the format is a deliberate,
 * visible diff), decode round trips, and strict rejection of anything malformed.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { TandemError } from '../src/errors.js'
import {
  decode,
  encodeAwareness,
  encodeSaved,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeUpdate,
  keepAlive,
  MessageType,
  SyncType,
  type ClientMessage,
} from '../src/protocol.js'
import { REPO_ROOT } from './helpers/server.js'
import { test } from './helpers/test.js'

const bytes = (...values: number[]) => new Uint8Array(values)


/** `frame` is refused as malformed (4400), with a message matching `message`. */
function assertMalformed(what: string, frame: Uint8Array, message: RegExp): void {
  assert.throws(
    () => decode(frame),
    (err: unknown) => {
      assert.ok(err instanceof TandemError, `${what}: expected a TandemError, got ${String(err)}`)
      assert.equal(err.code, 'MALFORMED_MESSAGE', what)
      assert.equal(err.closeCode, 4400, what)
      assert.match(err.message, message, what)
      return true
    },
    what,
  )
}

test('1. golden bytes: every encoder', () => {
  assert.deepEqual(encodeSyncStep1(bytes(1, 2)), bytes(0, 0, 2, 1, 2))
  assert.deepEqual(encodeSyncStep2(bytes(1, 2, 3)), bytes(0, 1, 3, 1, 2, 3))
  assert.deepEqual(encodeUpdate(bytes(9)), bytes(0, 2, 1, 9))
  assert.deepEqual(encodeAwareness(bytes(7, 8)), bytes(1, 2, 7, 8))
  assert.deepEqual(encodeSaved(5), bytes(100, 5))
  assert.deepEqual(keepAlive, bytes(1, 1, 0))
  // Empty payloads still carry their length.
  assert.deepEqual(encodeSyncStep1(bytes()), bytes(0, 0, 0))
  assert.deepEqual(encodeSaved(300), bytes(100, 0xac, 0x02))
})

test('2. golden bytes: payload lengths are varUints (200 = 0xc8 0x01)', () => {
  const payload = new Uint8Array(200).fill(7)
  const frame = encodeUpdate(payload)
  assert.deepEqual(frame.subarray(0, 4), bytes(0, 2, 0xc8, 0x01))
  assert.equal(frame.length, 4 + 200)
  assert.deepEqual(frame.subarray(4), payload)
})

test('2b. every payload length is framed as lib0 frames it, across the varUint byte boundaries', () => {
  for (const length of [0, 1, 127, 128, 129, 16_383, 16_384, 16_385, 2_097_151, 2_097_152]) {
    const payload = new Uint8Array(length).fill(length % 251)
    for (const [encode, prefix] of [
      [encodeUpdate, [0, 2]],
      [encodeSyncStep2, [0, 1]],
      [encodeAwareness, [1]],
    ] as const) {
      const encoder = encoding.createEncoder()
      for (const b of prefix) encoding.writeVarUint(encoder, b)
      encoding.writeVarUint8Array(encoder, payload)
      assert.deepEqual(encode(payload), encoding.toUint8Array(encoder), `${encode.name}, ${length} bytes`)
    }
  }
})

test('3. the type constants match y-websocket and y-protocols', () => {
  assert.deepEqual(MessageType, { sync: 0, awareness: 1, auth: 2, queryAwareness: 3, saved: 100 })
  assert.deepEqual(SyncType, { step1: 0, step2: 1, update: 2 })
})

test('4. decode round trips every client message', () => {
  const payload = bytes(3, 1, 4, 1, 5, 9, 2, 6)
  const cases: Array<[Uint8Array, ClientMessage]> = [
    [encodeSyncStep1(payload), { kind: 'sync-step1', stateVector: payload }],
    [encodeSyncStep2(payload), { kind: 'sync-step2', update: payload }],
    [encodeUpdate(payload), { kind: 'update', update: payload }],
    [encodeAwareness(payload), { kind: 'awareness', update: payload }],
    [bytes(3), { kind: 'query-awareness' }],
    [bytes(100, 5), { kind: 'saved-query', id: 5 }],
    [bytes(100, 0xac, 0x02), { kind: 'saved-query', id: 300 }],
    [encodeUpdate(bytes()), { kind: 'update', update: bytes() }],
  ]
  for (const [frame, expected] of cases) assert.deepEqual(decode(frame), expected, `decoding ${Array.from(frame)}`)
})

test('5. decode accepts a Buffer (what ws hands the server) and real Yjs payloads', () => {
  const doc = new Y.Doc()
  doc.getText('codemirror').insert(0, 'héllo')
  const update = Y.encodeStateAsUpdate(doc)
  const message = decode(Buffer.from(encodeUpdate(update)))
  assert.equal(message.kind, 'update')
  assert.ok(message.kind === 'update')
  const copy = new Y.Doc()
  Y.applyUpdate(copy, message.update)
  assert.equal(copy.getText('codemirror').toString(), 'héllo')

  const sv = Y.encodeStateVector(doc)
  const step1 = decode(Buffer.from(encodeSyncStep1(sv)))
  assert.ok(step1.kind === 'sync-step1')
  assert.deepEqual(Y.decodeStateVector(step1.stateVector), Y.decodeStateVector(sv))
})

test('6. keepAlive is an awareness update with no states: a no-op for a client', () => {
  const message = decode(keepAlive)
  assert.ok(message.kind === 'awareness')
  const doc = new Y.Doc()
  const awareness = new awarenessProtocol.Awareness(doc)
  try {
    const before = new Map(awareness.getStates())
    let changes = 0
    awareness.on('change', () => changes++)
    awarenessProtocol.applyAwarenessUpdate(awareness, message.update, 'server')
    assert.equal(changes, 0)
    assert.deepEqual(awareness.getStates(), before)
  } finally {
    awareness.destroy()
    doc.destroy()
  }
})

test('7. decode rejects malformed frames with MALFORMED_MESSAGE', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty frame', bytes(), /cannot decode/],
    ['unknown message type', bytes(5), /unknown message type 5/],
    ['auth (server to client only)', bytes(2, 0), /unknown message type 2/],
    ['savedQuery without its number', bytes(100), /cannot decode/],
    ['savedQuery with trailing bytes', bytes(100, 1, 1), /1 trailing bytes/],
    ['unknown sync subtype', bytes(0, 3, 0), /unknown sync message type 3/],
    ['sync without subtype', bytes(0), /cannot decode/],
    ['truncated varByteArray', bytes(0, 0, 5, 1, 2), /cannot decode/],
    ['truncated awareness', bytes(1, 3, 0), /cannot decode/],
    ['over-long varint', new Uint8Array(11).fill(0xff), /over-long varUint/],
    ['trailing bytes', bytes(0, 0, 1, 7, 9), /1 trailing bytes/],
    ['trailing bytes after query-awareness', bytes(3, 0, 0), /2 trailing bytes/],
  ]
  for (const [what, frame, message] of cases) assertMalformed(what, frame, message)
})

test('8. docs/protocol.md golden bytes table matches the encoders', () => {
  const docPath = path.join(REPO_ROOT, 'docs/protocol.md')
  assert.ok(fs.existsSync(docPath), `${docPath} does not exist`)
  const rows = new Map(
    fs
      .readFileSync(docPath, 'utf8')
      .split('\n')
      .filter((line) => /^\|\s*`/.test(line))
      .map((row) => row.split('|').map((cell) => cell.trim().replace(/^`(.*)`$/, '$1')))
      .map((cells) => [cells[1] ?? '', cells[2] ?? ''] as const),
  )
  const hexOf = (frame: Uint8Array) => Array.from(frame, (b) => b.toString(16).padStart(2, '0')).join(' ')
  const expected: Record<string, Uint8Array> = {
    'syncStep1([1,2])': encodeSyncStep1(bytes(1, 2)),
    'syncStep2([1,2])': encodeSyncStep2(bytes(1, 2)),
    'update([1,2])': encodeUpdate(bytes(1, 2)),
    'awareness([1,2])': encodeAwareness(bytes(1, 2)),
    queryAwareness: bytes(MessageType.queryAwareness),
    'saved(5)': encodeSaved(5),
    'savedQuery(5)': bytes(MessageType.saved, 5),
    keepAlive,
  }
  for (const [name, frame] of Object.entries(expected)) {
    assert.ok(rows.has(name), `docs/protocol.md has no golden row for ${name}`)
    assert.equal(rows.get(name), hexOf(frame), `docs/protocol.md golden bytes for ${name}`)
  }
})

test('9. varUints are read strictly: minimal, at most 8 bytes, at most 2^53 - 1, never past the end', () => {
  const MAX = Number.MAX_SAFE_INTEGER // 2^53 - 1 = 0xff x7, 0x0f
  const accepted: Array<[Uint8Array, ClientMessage]> = [
    [bytes(100, 0), { kind: 'saved-query', id: 0 }],
    [bytes(100, 0x7f), { kind: 'saved-query', id: 127 }],
    [bytes(100, 0x80, 0x01), { kind: 'saved-query', id: 128 }],
    [bytes(100, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f), { kind: 'saved-query', id: MAX }],
    [bytes(100, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), { kind: 'saved-query', id: 2 ** 49 }],
  ]
  for (const [frame, expected] of accepted) {
    assert.deepEqual(decode(frame), expected, `decoding ${Array.from(frame)}`)
    // What decodes is the one encoding of its message.
    if (expected.kind === 'saved-query') assert.deepEqual(encodeSaved(expected.id), frame)
  }

  const rejected: Array<[string, Uint8Array, RegExp]> = [
    // Non-minimal: lib0's readVarUint reads each of these as the minimal number.
    ['type 0 as 80 00', bytes(0x80, 0x00, 0, 0), /non-minimal varUint/],
    ['type 100 as e4 00', bytes(0xe4, 0x00, 5), /non-minimal varUint/],
    ['sync sub-type 0 as 80 80 00', bytes(0, 0x80, 0x80, 0x00, 0), /non-minimal varUint/],
    ['payload length 1 as 81 00', bytes(0, 2, 0x81, 0x00, 7), /non-minimal varUint/],
    ['awareness length 0 as 80 00', bytes(1, 0x80, 0x00), /non-minimal varUint/],
    ['savedQuery id 5 as 85 80 00', bytes(100, 0x85, 0x80, 0x00), /non-minimal varUint/],
    // Over-long: nine bytes or more, whatever the value.
    ['savedQuery id 2^56 in 9 bytes', bytes(100, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), /over-long varUint/],
    ['savedQuery id lib0 reads as Infinity', bytes(100, ...new Array<number>(146).fill(0x80), 7), /over-long varUint/],
    ['payload length in 9 bytes', bytes(0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), /over-long varUint/],
    // Past 2^53 - 1 in 8 bytes.
    ['savedQuery id 2^53', bytes(100, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10), /past 2\^53 - 1/],
    ['savedQuery id 2^56 - 1', bytes(100, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), /past 2\^53 - 1/],
    ['payload length 2^53', bytes(0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10), /past 2\^53 - 1/],
    // Truncated: a continuation bit on the last byte of the frame.
    ['type cut short', bytes(0x80), /runs past the end/],
    ['savedQuery id cut short', bytes(100, 0xff, 0xff), /runs past the end/],
    ['payload length cut short', bytes(0, 1, 0x81), /runs past the end/],
    ['payload length past the frame', bytes(0, 1, 0x80, 0x01, 1, 2, 3), /128-byte payload with 3 bytes left/],
  ]
  for (const [what, frame, message] of rejected) assertMalformed(what, frame, message)
})
