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
  sendOwnPresenceOnly(provider)
  // Tracks only this person's edits: remote and IndexedDB updates carry other origins.
  const undoManager = new Y.UndoManager(text)
  return { name, doc, text, provider, awareness: provider.awareness, persistence, undoManager }
}

/** What y-protocols' Awareness tells its 'update' listeners: the client ids that changed. */
interface AwarenessChanges {
  readonly added: number[]
  readonly updated: number[]
  readonly removed: number[]
}

/**
 * y-websocket's provider sends the server every awareness change it applies, other people's
 * included: its handler ignores where a change came from. So every reader sent back each cursor
 * move and each presence renewal it heard of, unchanged: in a room of N people, N-1 copies of
 * every one, which the server decodes and drops (it has them already), and a copy of anyone this
 * tab had timed out as a removal. Only changes to this tab's own state go out now: its moves and
 * renames, its leaving, and its answer when someone else's message removed it.
 */
function sendOwnPresenceOnly(provider: WebsocketProvider): void {
  const awareness = provider.awareness
  type Handler = (changes: AwarenessChanges, origin: unknown) => void
  const send = (provider as unknown as { _awarenessUpdateHandler: Handler })._awarenessUpdateHandler
  awareness.off('update', send)
  awareness.on('update', ({ added, updated, removed }: AwarenessChanges, origin: unknown) => {
    const own = awareness.clientID
    if (added.includes(own) || updated.includes(own) || removed.includes(own)) send({ added: [], updated: [own], removed: [] }, origin)
  })
}
