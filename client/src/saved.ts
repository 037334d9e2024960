/**
 * Tandem's `saved` extension (docs/protocol.md): the server tells opted-in clients, on join and
 * after each commit, the state vector its store holds durably. This browser's edits are saved
 * when that vector covers everything in its own doc, offline edits from before a reload included.
 *
 * Known gap: an edit that only deletes does not advance a Yjs state vector, so until the server
 * commits it such an edit is indistinguishable from a saved one (the protocol carries no delete set).
 */
import * as decoding from 'lib0/decoding'
import type { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

export const MESSAGE_SAVED = 100

/** Client id → clock, as Y.decodeStateVector returns it. */
export type StateVector = Map<number, number>

export interface SavedTracker {
  /** What the server last said is durable, or null when it has not said so on this connection. */
  durable(): StateVector | null
  /** Calls `listener` after each `saved` message and when the connection (and with it the knowledge) is lost. */
  onChange(listener: () => void): void
}

/** Whether `durable` holds every update in `local`. */
export function covers(durable: StateVector, local: StateVector): boolean {
  for (const [client, clock] of local) {
    if ((durable.get(client) ?? 0) < clock) return false
  }
  return true
}

export function localStateVector(doc: Y.Doc): StateVector {
  return Y.decodeStateVector(Y.encodeStateVector(doc))
}

export function trackSaved(provider: WebsocketProvider): SavedTracker {
  let durable: StateVector | null = null
  const listeners: Array<() => void> = []
  const changed = () => {
    for (const listener of listeners) listener()
  }
  // Reads only: anything written into `encoder` would be sent back to the server as a reply.
  provider.messageHandlers[MESSAGE_SAVED] = (_encoder, decoder) => {
    // Each message supersedes the last; after a server restart the new vector is a superset.
    durable = Y.decodeStateVector(decoding.readVarUint8Array(decoder))
    changed()
  }
  // The server repeats the vector on every join, so a stale one is never needed across sockets.
  provider.on('connection-close', () => {
    durable = null
    changed()
  })
  return {
    durable: () => durable,
    onChange: (listener) => void listeners.push(listener),
  }
}
