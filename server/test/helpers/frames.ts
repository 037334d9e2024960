/**
 * Decoding what the server sends, written independently of server/src/protocol.ts (which only
 * decodes client frames), so tests read the wire the way a client does.
 */
import * as decoding from 'lib0/decoding'

export type ServerFrame =
  | { readonly kind: 'sync-step1'; readonly stateVector: Uint8Array }
  | { readonly kind: 'sync-step2'; readonly update: Uint8Array }
  | { readonly kind: 'update'; readonly update: Uint8Array }
  | { readonly kind: 'awareness'; readonly update: Uint8Array }
  | { readonly kind: 'saved'; readonly id: number }

export function decodeServerFrame(frame: Uint8Array): ServerFrame {
  const decoder = decoding.createDecoder(frame)
  const type = decoding.readVarUint(decoder)
  let out: ServerFrame
  if (type === 0) {
    const sub = decoding.readVarUint(decoder)
    const payload = decoding.readVarUint8Array(decoder)
    if (sub === 0) out = { kind: 'sync-step1', stateVector: payload }
    else if (sub === 1) out = { kind: 'sync-step2', update: payload }
    else if (sub === 2) out = { kind: 'update', update: payload }
    else throw new Error(`server sent unknown sync sub-type ${sub}`)
  } else if (type === 1) {
    out = { kind: 'awareness', update: decoding.readVarUint8Array(decoder) }
  } else if (type === 100) {
    out = { kind: 'saved', id: decoding.readVarUint(decoder) }
  } else {
    throw new Error(`server sent unknown message type ${type}`)
  }
  if (decoding.hasContent(decoder)) throw new Error(`server frame of type ${type} has trailing bytes`)
  return out
}

/** Bytes as a short hex string, for failure messages. */
export function hex(bytes: Uint8Array, max = 32): string {
  const shown = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, '0')).join(' ')
  return bytes.length > max ? `${shown} ... (${bytes.length} bytes)` : shown
}
