/**
 * One shared document as this browser holds it: the Y.Doc, its copy in IndexedDB (so edits made
 * offline survive a reload) and the WebSocket provider that syncs it with the server and carries
 * presence (awareness).
 */
import { IndexeddbPersistence } from 'y-indexeddb'
import * as authProtocol from 'y-protocols/auth'
import type { Awareness } from 'y-protocols/awareness'
import { messageAuth, WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

/** The Y.Text the editor binds to; the server reads the same name for /api/docs/<name>/text. */
export const TEXT_NAME = 'codemirror'

export interface Collab {
  readonly name: string
  readonly doc: Y.Doc
  readonly text: Y.Text
  readonly provider: WebsocketProvider
  readonly awareness: Awareness
  readonly persistence: IndexeddbPersistence
  readonly undoManager: Y.UndoManager
}

function websocketBase(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`
}

/**
 * `token` (the link's, when it has one) travels as the socket URL's `token` query parameter.
 * The provider's own handling of a permission-denied message logs its URL, token included, so it
 * is replaced by one that does not.
 */
export function openCollab(name: string, token: string | null): Collab {
  const doc = new Y.Doc()
  const text = doc.getText(TEXT_NAME)
  // Whichever of IndexedDB and the server answers first, the other's content merges in later
  // (Yjs updates commute); offline edits loaded after the handshake are sent as ordinary updates.
  const persistence = new IndexeddbPersistence(`tandem:${name}`, doc)
  const provider = new WebsocketProvider(websocketBase(), encodeURIComponent(name), doc, {
    params: token ? { token } : {},
  })
  provider.messageHandlers[messageAuth] = (_encoder, decoder) =>
    authProtocol.readAuthMessage(decoder, doc, (_doc, reason) => console.warn(`Permission denied to ${name}: ${reason}`))
  // Tracks only this person's edits: remote and IndexedDB updates carry other origins.
  const undoManager = new Y.UndoManager(text)
  return { name, doc, text, provider, awareness: provider.awareness, persistence, undoManager }
}
