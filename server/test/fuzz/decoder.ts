/**
 * Property tests of the frame decoder (server/src/protocol.ts decode): whatever the bytes, it
 * returns a message or throws TandemError MALFORMED_MESSAGE (4400), nothing else, and quickly;
 * what it accepts is the one encoding of its message (varUints are read strictly, so no message
 * has two spellings); and every message the encoders produce decodes back to itself.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { TandemError } from '../../src/errors.js'
import * as protocol from '../../src/protocol.js'
import { hex } from '../helpers/frames.js'
import { hostileFrame, validMessage, withCause } from './arbitraries.js'

const KINDS = new Set(['sync-step1', 'sync-step2', 'update', 'awareness', 'query-awareness', 'saved-query'])

/** A decode takes microseconds; a second (room for a GC pause on a busy machine) means it loops on a declared size. */
const MAX_DECODE_MS = 1000

/** The decoder's contract for one frame; throws (an assertion) when it is broken. */
export function checkDecode(frame: Uint8Array): void {
  const started = performance.now()
  let message: protocol.ClientMessage | null = null
  try {
    message = protocol.decode(frame)
  } catch (err) {
    if (!(err instanceof TandemError)) throw new Error(`decode(${hex(frame)}) threw a ${(err as Error)?.constructor?.name}: ${String(err)}`)
    assert.equal(err.code, 'MALFORMED_MESSAGE', `decode(${hex(frame)}) threw ${err.code}`)
    assert.equal(err.closeCode, 4400)
  }
  const took = performance.now() - started
  assert.ok(took < MAX_DECODE_MS, `decode(${hex(frame)}) took ${took.toFixed(1)} ms`)
  if (message === null) return
  assert.ok(KINDS.has(message.kind), `decode(${hex(frame)}) returned kind ${String(message.kind)}`)
  // A payload is a view of bytes the frame actually holds.
  const payload = 'update' in message ? message.update : 'stateVector' in message ? message.stateVector : null
  if (payload) {
    assert.ok(payload instanceof Uint8Array)
    assert.ok(payload.length <= frame.length, `decode(${hex(frame)}) returned a ${payload.length}-byte payload`)
  }
  checkRoundTrip(frame)
}

/** Encoding what a valid frame decodes to gives the same bytes back. */
export function checkRoundTrip(frame: Uint8Array): void {
  const message = protocol.decode(frame)
  const again =
    message.kind === 'sync-step1'
      ? protocol.encodeSyncStep1(message.stateVector)
      : message.kind === 'sync-step2'
        ? protocol.encodeSyncStep2(message.update)
        : message.kind === 'update'
          ? protocol.encodeUpdate(message.update)
          : message.kind === 'awareness'
            ? protocol.encodeAwareness(message.update)
            : message.kind === 'saved-query'
              ? protocol.encodeSaved(message.id)
              : new Uint8Array([protocol.MessageType.queryAwareness])
  assert.deepEqual(Buffer.from(again), Buffer.from(frame), `round trip of ${hex(frame)}`)
}

export interface DecoderFuzzOptions {
  readonly seed: number
  readonly numRuns: number
}

/** Runs both properties; on failure fast-check's error names the seed and the shrunk frame. */
export function fuzzDecoder({ seed, numRuns }: DecoderFuzzOptions): void {
  try {
    fc.assert(fc.property(hostileFrame, checkDecode), { seed, numRuns })
    fc.assert(fc.property(validMessage, checkRoundTrip), { seed, numRuns: Math.max(1, Math.floor(numRuns / 4)) })
  } catch (err) {
    withCause(err)
  }
}
