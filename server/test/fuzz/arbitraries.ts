/**
 * fast-check arbitraries for what a hostile client can put in a WebSocket message: random bytes,
 * valid protocol messages (carrying real Yjs updates, state vectors and presence), those same
 * messages mutated (bytes flipped, inserted, deleted, cut short, extended), over-long varints and
 * declared lengths and counts far beyond the bytes that follow.
 */
import fc from 'fast-check'
import * as Y from 'yjs'
import { encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeUpdate, MessageType } from '../../src/protocol.js'
import { TEXT_NAME } from '../../src/room.js'
import { awarenessFrame, hugeStructCount, infiniteNumberFrames, varUint } from '../helpers/hostile.js'

const concat = (...parts: Array<ArrayLike<number>>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

type Op = readonly [kind: 'insert' | 'delete' | 'map' | 'format', at: number, text: string]

/** A small document built by a seeded script of edits: its full update and its state vector. */
const document: fc.Arbitrary<{ update: Uint8Array; stateVector: Uint8Array }> = fc
  .record({
    client: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
    ops: fc.array(
      fc.tuple(fc.constantFrom('insert', 'delete', 'map', 'format'), fc.nat(40), fc.string({ maxLength: 12 })) as fc.Arbitrary<Op>,
      { minLength: 1, maxLength: 8 },
    ),
  })
  .map(({ client, ops }) => {
    const doc = new Y.Doc()
    doc.clientID = client
    const text = doc.getText(TEXT_NAME)
    for (const [kind, at, content] of ops) {
      const pos = Math.min(at, text.length)
      if (kind === 'insert') text.insert(pos, content || 'x')
      else if (kind === 'delete') text.delete(pos, Math.min(content.length + 1, text.length - pos))
      else if (kind === 'format') text.format(0, Math.min(pos, text.length), { bold: content.length % 2 === 0 })
      else doc.getMap('meta').set(content, at)
    }
    const out = { update: Y.encodeStateAsUpdate(doc), stateVector: Y.encodeStateVector(doc) }
    doc.destroy()
    return out
  })

/** Presence as y-protocols encodes it, some states large, some removals. */
const presence: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.record({
      client: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.nat()),
      clock: fc.nat({ max: 1000 }),
      json: fc.oneof(
        { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null') },
        { weight: 1, arbitrary: fc.constant('null') },
        { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }, // not always JSON
      ),
    }),
    { maxLength: 12 },
  )
  .map((entries) => awarenessFrame(entries))

/** A well-formed protocol message (the Yjs payload inside may still be hostile). */
export const validMessage: fc.Arbitrary<Uint8Array> = fc.oneof(
  document.map((d) => encodeSyncStep1(d.stateVector)),
  document.map((d) => encodeSyncStep2(d.update)),
  { weight: 3, arbitrary: document.map((d) => encodeUpdate(d.update)) },
  { weight: 2, arbitrary: presence },
  fc.constant(new Uint8Array([MessageType.queryAwareness])),
  fc.nat().map((n) => new Uint8Array([MessageType.saved, ...varUint(n)])),
)

const mutation = (frame: Uint8Array): fc.Arbitrary<Uint8Array> => {
  const index = fc.nat({ max: Math.max(0, frame.length - 1) })
  return fc.oneof(
    fc.tuple(index, fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
      const out = frame.slice()
      out[i] = b
      return out
    }),
    fc.tuple(index, fc.integer({ min: 0, max: 7 })).map(([i, bit]) => {
      const out = frame.slice()
      out[i]! ^= 1 << bit
      return out
    }),
    fc.tuple(index, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([i, bytes]) => concat(frame.subarray(0, i), bytes, frame.subarray(i))),
    fc.tuple(index, fc.integer({ min: 1, max: 8 })).map(([i, n]) => concat(frame.subarray(0, i), frame.subarray(i + n))),
    index.map((i) => frame.slice(0, i)), // truncated
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((tail) => concat(frame, tail)), // trailing bytes
  )
}

/** A valid message with one to three mutations. */
export const mutatedMessage: fc.Arbitrary<Uint8Array> = validMessage.chain((frame) =>
  mutation(frame).chain((once) => fc.oneof(fc.constant(once), mutation(once), mutation(once).chain(mutation))),
)

/** varUint(value) padded with `extra` continuation bytes: longer than needed, or past 2^53. */
const overlong = (value: number, extra: number, fill: number): number[] => {
  const bytes = varUint(value)
  const last = bytes.pop()!
  return [...bytes, ...Array<number>(extra).fill(fill), last]
}

/** Well-framed messages whose Yjs update, state vector or presence payload is mutated. */
export const mutatedPayload: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: document.chain((d) => mutation(d.update)).map((update) => encodeUpdate(update)) },
  document.chain((d) => mutation(d.update)).map((update) => encodeSyncStep2(update)),
  document.chain((d) => mutation(d.stateVector)).map((sv) => encodeSyncStep1(sv)),
  presence.chain((frame) => mutation(frame.subarray(2))).map((update) => encodeAwareness(update)),
)

/** Messages whose type, sub-type, length or id is an over-long varint. */
export const overlongVarint: fc.Arbitrary<Uint8Array> = fc
  .record({
    where: fc.constantFrom('type', 'sub', 'length', 'id'),
    // Few extra bytes stay within 8 bytes: a non-minimal spelling of a small number that only
    // a strict reader refuses. Many make one that no reader should take.
    extra: fc.oneof(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 200 })),
    fill: fc.constantFrom(0x80, 0xff, 0xc0),
    tail: fc.uint8Array({ maxLength: 16 }),
  })
  .map(({ where, extra, fill, tail }) => {
    if (where === 'type') return concat(overlong(MessageType.sync, extra, fill), [0, tail.length], tail)
    if (where === 'sub') return concat([MessageType.sync], overlong(2, extra, fill), [tail.length], tail)
    if (where === 'length') return concat([MessageType.awareness], overlong(tail.length, extra, fill), tail)
    return concat([MessageType.saved], overlong(7, extra, fill))
  })

/** Lengths and counts declared far beyond the bytes that follow. */
export const hugeDeclared: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(fc.constantFrom(0, 1, 2), fc.integer({ min: 2 ** 20, max: Number.MAX_SAFE_INTEGER }), fc.uint8Array({ maxLength: 16 })).map(
    ([sub, length, tail]) => concat([MessageType.sync, sub], varUint(length), tail),
  ),
  fc.tuple(fc.integer({ min: 2 ** 20, max: 2 ** 53 - 1 }), fc.uint8Array({ maxLength: 16 })).map(([length, tail]) =>
    concat([MessageType.awareness], varUint(length), tail),
  ),
  // Inside well-formed frames: Yjs struct counts, presence entry counts, state vector sizes.
  fc.integer({ min: 2 ** 16, max: 2 ** 32 - 1 }).map((n) => encodeUpdate(hugeStructCount(n))),
  fc.integer({ min: 2 ** 16, max: 2 ** 32 - 1 }).map((n) => encodeSyncStep2(new Uint8Array([...varUint(n), 1, 0, 0]))),
  fc.integer({ min: 2 ** 16, max: 2 ** 32 - 1 }).map((n) => encodeAwareness(new Uint8Array([...varUint(n), 1, 1, 2, 123, 125]))),
  fc.integer({ min: 2 ** 16, max: 2 ** 32 - 1 }).map((n) => encodeSyncStep1(new Uint8Array([...varUint(n), 1, 1]))),
  // Numbers that lib0 reads as Infinity, where a client id, clock, length or query id goes.
  fc.constantFrom(...infiniteNumberFrames().map(({ frame }) => frame)),
)

/** Anything a hostile client might send as one binary message. */
export const hostileFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 2, arbitrary: validMessage },
  { weight: 3, arbitrary: mutatedMessage },
  { weight: 3, arbitrary: mutatedPayload },
  { weight: 1, arbitrary: overlongVarint },
  { weight: 1, arbitrary: hugeDeclared },
)

/** The seed for a fuzz run: FUZZ_SEED when set (to replay one), else a fresh one. */
export function fuzzSeed(): number {
  const fromEnv = process.env['FUZZ_SEED']
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const n = Number(fromEnv)
    if (!Number.isInteger(n)) throw new Error(`FUZZ_SEED must be an integer, got ${JSON.stringify(fromEnv)}`)
    return n | 0
  }
  return (Date.now() ^ (process.pid << 16)) | 0
}

/**
 * fast-check reports the seed, path and counterexample, and keeps what actually broke as the
 * error's cause, which test runners do not print: put it in the message.
 */
export function withCause(err: unknown): never {
  const cause = (err as Error | undefined)?.cause
  if (err instanceof Error && cause instanceof Error) err.message += `\nCaused by: ${cause.message}`
  throw err
}
