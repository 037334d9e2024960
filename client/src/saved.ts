/**
 * Tandem's saved-state extension (docs/protocol.md): after each local change, and after each
 * sync (whose step 2 carries offline edits), ask the server `savedQuery(n)`; it answers `saved(n)`
 * once everything this connection sent before the query is in its store. Asking, rather than
 * comparing state vectors, also covers deletions, which advance no state vector.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { WebsocketProvider } from 'y-websocket'
import type * as Y from 'yjs'

export const MESSAGE_SAVED = 100

export interface SavedTracker {
  /** Whether the server has confirmed storing everything this browser sent on this connection. */
  settled(): boolean
  /** Calls `listener` after each question and answer, and when a connection is lost. */
  onChange(listener: () => void): void
}

export function trackSaved(provider: WebsocketProvider, doc: Y.Doc): SavedTracker {
  let asked = 0
  let answered = 0
  // Until a question asked on the current connection is answered, nothing is known to be stored.
  let stale = true
  const listeners: Array<() => void> = []
  const changed = () => {
    for (const listener of listeners) listener()
  }

  const ask = () => {
    const ws = provider.ws
    if (!ws || ws.readyState !== WebSocket.OPEN) return
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, MESSAGE_SAVED)
    encoding.writeVarUint(encoder, ++asked)
    ws.send(encoding.toUint8Array(encoder))
    changed()
  }

  // Reads only: anything written into `encoder` would be sent back to the server as a reply.
  provider.messageHandlers[MESSAGE_SAVED] = (_encoder, decoder) => {
    const n = decoding.readVarUint(decoder)
    answered = Math.max(answered, n)
    if (n === asked) stale = false
    changed()
  }
  // The provider registered its own update handler first, so the update is already on the wire
  // when this asks: the question follows it.
  doc.on('update', (_update: Uint8Array, origin: unknown) => {
    if (origin !== provider) ask()
  })
  provider.on('sync', (synced: boolean) => {
    if (synced) ask()
  })
  provider.on('connection-close', () => {
    stale = true
    changed()
  })
  return {
    settled: () => !stale && answered >= asked,
    onChange: (listener) => void listeners.push(listener),
  }
}
