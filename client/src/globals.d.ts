import type { WebsocketProvider } from 'y-websocket'
import type { Awareness } from 'y-protocols/awareness'
import type * as Y from 'yjs'

declare global {
  interface Window {
    /** The editor page's collaboration objects, for the e2e tests and for debugging in devtools. */
    tandem?: {
      readonly doc: Y.Doc
      readonly provider: WebsocketProvider
      readonly awareness: Awareness
      readonly undoManager: Y.UndoManager
    }
  }
}
