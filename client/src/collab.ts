/**
 * One shared document as this browser holds it: the Y.Doc, its copy in IndexedDB (so edits made
 * offline survive a reload) and the WebSocket provider that syncs it with the server and carries
 * presence (awareness).
 */
import { IndexeddbPersistence } from 'y-indexeddb'
import type { Awareness } from 'y-protocols/awareness'
import { WebsocketProvider } from 'y-websocket'
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

export function openCollab(name: string): Collab {
  const doc = new Y.Doc()
  const text = doc.getText(TEXT_NAME)
  // Whichever of IndexedDB and the server answers first, the other's content merges in later
  // (Yjs updates commute); offline edits loaded after the handshake are sent as ordinary updates.
  const persistence = new IndexeddbPersistence(`tandem:${name}`, doc)
  const provider = new WebsocketProvider(websocketBase(), encodeURIComponent(name), doc)
  // Tracks only this person's edits: remote and IndexedDB updates carry other origins.
  const undoManager = new Y.UndoManager(text)
  return { name, doc, text, provider, awareness: provider.awareness, persistence, undoManager }
}
