/**
 * Pure encode/decode of the y-websocket wire protocol (see docs/protocol.md for the grammar).
 * Decoding returns a tagged union or throws a TandemError; nothing here touches a socket or a doc.
 */
import * as encoding from 'lib0/encoding'
import { TandemError } from './errors.js'

/**
 * Top-level message types. 0-3 are y-websocket's; `saved` is Tandem's extension: a client that
 * asks (savedQuery) is answered, so stock clients never see it.
 */
export const MessageType = {
  sync: 0,
  awareness: 1,
  auth: 2,
  queryAwareness: 3,
  saved: 100,
} as const

/** Sub-types of a sync message (y-protocols/sync). */
export const SyncType = {
  step1: 0,
  step2: 1,
  update: 2,
} as const

export type ClientMessage =
  | { readonly kind: 'sync-step1'; readonly stateVector: Uint8Array }
  | { readonly kind: 'sync-step2'; readonly update: Uint8Array }
  | { readonly kind: 'update'; readonly update: Uint8Array }
  | { readonly kind: 'awareness'; readonly update: Uint8Array }
  | { readonly kind: 'query-awareness' }
  | { readonly kind: 'saved-query'; readonly id: number }

function malformed(message: string): TandemError {
  return new TandemError('MALFORMED_MESSAGE', message)
}

/** A position in a frame being read. */
interface Reader {
  readonly frame: Uint8Array
  pos: number
}

/** The most bytes a varUint up to 2^53 - 1 takes: 7 bits each. */
const MAX_VARUINT_BYTES = 8

/**
 * Reads lib0's varUint strictly. lib0's own reader takes any number of bytes, including a
 * non-minimal encoding (0x80 0x00 for 0) and ones whose value is not a safe integer (even
 * Infinity); those are not written by any Yjs client, and accepting them would let one number
 * have many spellings. Minimal means the last byte is not 0 unless it is the only one.
 */
function readVarUint(reader: Reader): number {
  let value = 0
  let scale = 1
  for (let i = 0; i < MAX_VARUINT_BYTES; i++) {
    if (reader.pos >= reader.frame.length) throw malformed('cannot decode message: a varUint runs past the end')
    const byte = reader.frame[reader.pos++]!
    // Exact while the value is below 2^53; anything larger still compares as larger.
    value += (byte & 0x7f) * scale
    if (byte < 0x80) {
      if (byte === 0 && i > 0) throw malformed('non-minimal varUint (a zero final byte)')
      if (value > Number.MAX_SAFE_INTEGER) throw malformed('varUint past 2^53 - 1')
      return value
    }
    scale *= 0x80
  }
  throw malformed(`over-long varUint (more than ${MAX_VARUINT_BYTES} bytes)`)
}

/** varByteArray(x) := varUint(len(x)) • x, returned as a view of the frame. */
function readVarBytes(reader: Reader): Uint8Array {
  const length = readVarUint(reader)
  const left = reader.frame.length - reader.pos
  if (length > left) throw malformed(`cannot decode message: a ${length}-byte payload with ${left} bytes left`)
  const bytes = reader.frame.subarray(reader.pos, reader.pos + length)
  reader.pos += length
  return bytes
}

/**
 * Decodes one client frame. Strict: unknown types, truncated payloads, non-minimal or over-long
 * varUints and trailing bytes are all errors, because a frame we half-understand is one we might
 * half-apply. So a frame that decodes is the one encoding of its message.
 */
export function decode(frame: Uint8Array): ClientMessage {
  const reader: Reader = { frame, pos: 0 }
  let message: ClientMessage
  const type = readVarUint(reader)
  switch (type) {
    case MessageType.sync: {
      const sub = readVarUint(reader)
      if (sub !== SyncType.step1 && sub !== SyncType.step2 && sub !== SyncType.update) {
        throw malformed(`unknown sync message type ${sub}`)
      }
      const payload = readVarBytes(reader)
      if (sub === SyncType.step1) message = { kind: 'sync-step1', stateVector: payload }
      else if (sub === SyncType.step2) message = { kind: 'sync-step2', update: payload }
      else message = { kind: 'update', update: payload }
      break
    }
    case MessageType.awareness:
      message = { kind: 'awareness', update: readVarBytes(reader) }
      break
    case MessageType.queryAwareness:
      message = { kind: 'query-awareness' }
      break
    case MessageType.saved:
      message = { kind: 'saved-query', id: readVarUint(reader) }
      break
    default:
      throw malformed(`unknown message type ${type}`)
  }
  if (reader.pos < frame.length) throw malformed(`${frame.length - reader.pos} trailing bytes after message`)
  return message
}

/**
 * type • sub • varByteArray(payload), in one allocation of the exact size: relaying allocates a
 * frame per update, which lib0's encoder would start in a 100-byte buffer and then copy out.
 * Every type here is below 128, one byte as a varUint; `sub` < 0 is left out.
 */
function frame(type: number, sub: number, payload: Uint8Array): Uint8Array {
  const length = payload.length
  let lengthBytes = 1
  for (let v = length; v >= 0x80; v = Math.floor(v / 0x80)) lengthBytes++
  let pos = sub < 0 ? 1 : 2
  const out = new Uint8Array(pos + lengthBytes + length)
  out[0] = type
  if (sub >= 0) out[1] = sub
  let v = length
  for (; v >= 0x80; v = Math.floor(v / 0x80)) out[pos++] = 0x80 | v % 0x80
  out[pos++] = v
  out.set(payload, pos)
  return out
}

function sync(sub: number, payload: Uint8Array): Uint8Array {
  return frame(MessageType.sync, sub, payload)
}

/** syncStep1(sv) := varUint(0) • varUint(0) • varByteArray(sv) */
export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array => sync(SyncType.step1, stateVector)

/** syncStep2(update) := varUint(0) • varUint(1) • varByteArray(update) */
export const encodeSyncStep2 = (update: Uint8Array): Uint8Array => sync(SyncType.step2, update)

/** update(update) := varUint(0) • varUint(2) • varByteArray(update) */
export const encodeUpdate = (update: Uint8Array): Uint8Array => sync(SyncType.update, update)

function typed(type: number, payload: Uint8Array): Uint8Array {
  return frame(type, -1, payload)
}

/** awareness(update) := varUint(1) • varByteArray(awarenessUpdate) */
export const encodeAwareness = (update: Uint8Array): Uint8Array => typed(MessageType.awareness, update)

/**
 * saved(n) := varUint(100) • varUint(n): the answer to the client's savedQuery(n), sent once
 * everything the connection sent before that query is in the store.
 */
export function encodeSaved(id: number): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageType.saved)
  encoding.writeVarUint(encoder, id)
  return encoding.toUint8Array(encoder)
}

/**
 * keepAlive := varUint(1) • varByteArray(varUint(0)): an awareness update with no states. Stock
 * clients apply it as a no-op, but it resets their 30 s "no message, reconnect" timer.
 */
export const keepAlive: Uint8Array = encodeAwareness(new Uint8Array([0]))
