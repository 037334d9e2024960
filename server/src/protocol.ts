/**
 * Pure encode/decode of the y-websocket wire protocol (see docs/protocol.md for the grammar).
 * Decoding returns a tagged union or throws a TandemError; nothing here touches a socket or a doc.
 */
import * as decoding from 'lib0/decoding'
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

function malformed(message: string, cause?: unknown): TandemError {
  return new TandemError('MALFORMED_MESSAGE', message, { cause })
}

/**
 * Decodes one client frame. Strict: unknown types, truncated payloads and trailing bytes are all
 * errors, because a frame we half-understand is one we might half-apply.
 */
export function decode(frame: Uint8Array): ClientMessage {
  const decoder = decoding.createDecoder(frame)
  let message: ClientMessage
  try {
    const type = decoding.readVarUint(decoder)
    switch (type) {
      case MessageType.sync: {
        const sub = decoding.readVarUint(decoder)
        const payload = decoding.readVarUint8Array(decoder)
        if (sub === SyncType.step1) message = { kind: 'sync-step1', stateVector: payload }
        else if (sub === SyncType.step2) message = { kind: 'sync-step2', update: payload }
        else if (sub === SyncType.update) message = { kind: 'update', update: payload }
        else throw malformed(`unknown sync message type ${sub}`)
        break
      }
      case MessageType.awareness:
        message = { kind: 'awareness', update: decoding.readVarUint8Array(decoder) }
        break
      case MessageType.queryAwareness:
        message = { kind: 'query-awareness' }
        break
      case MessageType.saved:
        message = { kind: 'saved-query', id: decoding.readVarUint(decoder) }
        break
      default:
        throw malformed(`unknown message type ${type}`)
    }
  } catch (err) {
    if (err instanceof TandemError) throw err
    // lib0 throws plain Errors for reads past the end and over-long varints.
    throw malformed(`cannot decode message: ${(err as Error).message}`, err)
  }
  if (decoding.hasContent(decoder)) throw malformed(`${frame.length - decoder.pos} trailing bytes after message`)
  return message
}

function sync(sub: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageType.sync)
  encoding.writeVarUint(encoder, sub)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
}

/** syncStep1(sv) := varUint(0) • varUint(0) • varByteArray(sv) */
export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array => sync(SyncType.step1, stateVector)

/** syncStep2(update) := varUint(0) • varUint(1) • varByteArray(update) */
export const encodeSyncStep2 = (update: Uint8Array): Uint8Array => sync(SyncType.step2, update)

/** update(update) := varUint(0) • varUint(2) • varByteArray(update) */
export const encodeUpdate = (update: Uint8Array): Uint8Array => sync(SyncType.update, update)

function typed(type: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, type)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
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
