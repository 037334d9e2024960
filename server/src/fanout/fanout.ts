/**
 * Fan-out between Tandem instances that share one store. Only what is already durable travels
 * (updates after their commit, with their sequence numbers), plus presence. It is a fast path,
 * not the source of truth: whatever it drops, rooms recover from the store (catch-up).
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

export type FanoutMessage =
  /** Updates stored under sequence numbers first..last, in order. */
  | { readonly kind: 'updates'; readonly first: number; readonly last: number; readonly updates: readonly Uint8Array[] }
  /** An awareness update (y-protocols encoding) from one of the sender's connections. */
  | { readonly kind: 'awareness'; readonly update: Uint8Array }
  /**
   * Sent by an instance once its subscription to a document is in place: every instance with
   * clients in the document answers with their presence. Without it, a client joining on this
   * instance would not see the others until their clients renew their presence (every 15 s), and
   * presence published while the subscription was on its way would be lost.
   */
  | { readonly kind: 'presence-query' }

export interface Envelope {
  /** The sending instance. */
  readonly from: string
  /** The sender's clock (ms since epoch) when it published: the receiver's lag is now - sentAt. */
  readonly sentAt: number
  readonly message: FanoutMessage
}

export interface Fanout {
  readonly instanceId: string
  /** Starts delivering the document's messages from other instances to `handler`. */
  subscribe(name: string, handler: (envelope: Envelope) => void): Promise<void>
  unsubscribe(name: string): Promise<void>
  /** Best effort: a message that cannot be sent now is dropped (catch-up covers it). */
  publish(name: string, message: FanoutMessage): void
  /**
   * Anything may have been missed: after this instance reconnects, or when another instance
   * says it dropped messages it could not publish. Listeners catch up from the store.
   */
  onResume(listener: () => void): void
  /** An instance stopped (said goodbye, or its heartbeat stopped): its presence must go. */
  onInstanceGone(listener: (instanceId: string) => void): void
  status(): { readonly connected: boolean; readonly lagMs: number | null }
  close(): Promise<void>
}

const KIND_UPDATES = 0
const KIND_AWARENESS = 1
const KIND_PRESENCE_QUERY = 2

/** envelope := varString(from) • varUint(sentAt) • varUint(kind) • body */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, envelope.from)
  encoding.writeVarUint(encoder, envelope.sentAt)
  const { message } = envelope
  if (message.kind === 'updates') {
    // body := varUint(first) • varUint(last) • varUint(n) • varByteArray(update)^n
    encoding.writeVarUint(encoder, KIND_UPDATES)
    encoding.writeVarUint(encoder, message.first)
    encoding.writeVarUint(encoder, message.last)
    encoding.writeVarUint(encoder, message.updates.length)
    for (const update of message.updates) encoding.writeVarUint8Array(encoder, update)
  } else if (message.kind === 'awareness') {
    // body := varByteArray(awarenessUpdate)
    encoding.writeVarUint(encoder, KIND_AWARENESS)
    encoding.writeVarUint8Array(encoder, message.update)
  } else {
    // body := (nothing)
    encoding.writeVarUint(encoder, KIND_PRESENCE_QUERY)
  }
  return encoding.toUint8Array(encoder)
}

/** Throws on anything malformed: the caller drops it (and catch-up repairs what it lost). */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const decoder = decoding.createDecoder(bytes)
  const from = decoding.readVarString(decoder)
  const sentAt = decoding.readVarUint(decoder)
  const kind = decoding.readVarUint(decoder)
  let message: FanoutMessage
  if (kind === KIND_UPDATES) {
    const first = decoding.readVarUint(decoder)
    const last = decoding.readVarUint(decoder)
    const n = decoding.readVarUint(decoder)
    if (first < 1 || last < first || n !== last - first + 1) throw new Error(`envelope says ${n} updates for ${first}..${last}`)
    const updates: Uint8Array[] = []
    for (let i = 0; i < n; i++) updates.push(decoding.readVarUint8Array(decoder))
    message = { kind: 'updates', first, last, updates }
  } else if (kind === KIND_AWARENESS) {
    message = { kind: 'awareness', update: decoding.readVarUint8Array(decoder) }
  } else if (kind === KIND_PRESENCE_QUERY) {
    message = { kind: 'presence-query' }
  } else {
    throw new Error(`unknown envelope kind ${kind}`)
  }
  if (decoding.hasContent(decoder)) throw new Error('trailing bytes after the envelope')
  return { from, sentAt, message }
}
