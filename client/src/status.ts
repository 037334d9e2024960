/**
 * The connection and saved indicator. `deriveStatus` is the whole policy, as a pure function of
 * what the provider, IndexedDB and the server's `saved` answers have said; the element only
 * re-renders it. The data-* values are a contract: the e2e tests read them.
 */
import type { AccessWatch, Refusal } from './access.js'
import type { Collab } from './collab.js'
import { h } from './dom.js'
import type { SavedTracker } from './saved.js'

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed'
export type SaveState = 'loading' | 'saved' | 'unsaved' | 'offline'

export interface StatusInputs {
  /** Socket open and the server's sync step 2 received. */
  readonly connected: boolean
  /** A connection was ever made or a first attempt failed: later gaps are reconnects. */
  readonly attempted: boolean
  /**
   * The provider stopped retrying: the server closed with a code that says retrying cannot help
   * (4400-4499), or disconnect() was called.
   */
  readonly closed: boolean
  /** The doc has been filled from IndexedDB or from the server at least once. */
  readonly loaded: boolean
  /** The server confirmed storing everything sent on this connection (saved.ts). */
  readonly settled: boolean
  /** The link is a viewer's: the server applies none of this page's updates. */
  readonly viewer: boolean
}

export interface Status {
  readonly connection: ConnectionState
  readonly save: SaveState
}

export function deriveStatus(i: StatusInputs): Status {
  const connection: ConnectionState = i.connected
    ? 'connected'
    : i.closed
      ? 'closed'
      : i.attempted
        ? 'reconnecting'
        : 'connecting'
  if (!i.loaded) return { connection, save: 'loading' }
  if (connection !== 'connected') return { connection, save: 'offline' }
  // A viewer has nothing to save: it cannot type, and the server would drop its updates anyway.
  // Connected and synced, it holds what the server holds, which is what `saved` means to anyone
  // reading the indicator (the e2e tests included); "Unsaved changes" would be a false alarm.
  if (i.viewer) return { connection, save: 'saved' }
  return { connection, save: i.settled ? 'saved' : 'unsaved' }
}

const connectionText: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  connected: '',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected: reload to retry',
}

/** Shown instead of "Disconnected" when the server refused the link (access.ts has the details). */
const refusedText: Record<Refusal, string> = {
  expired: 'Access expired',
  invalid: 'No access',
}

const saveText: Record<SaveState, string> = {
  loading: 'Loading…',
  saved: 'Saved',
  unsaved: 'Unsaved changes',
  offline: 'Offline: saved on this device',
}

/** A viewer's words for the same states: it reads the document, it does not save it. */
const viewerSaveText: Record<SaveState, string> = {
  loading: 'Loading…',
  saved: 'Live',
  unsaved: 'Live',
  offline: 'Offline: showing the last copy',
}

export function statusIndicator(collab: Collab, saved: SavedTracker, access: AccessWatch, viewer: boolean): HTMLElement {
  const { provider, persistence, doc } = collab
  // Only the connection part is a live region: the saved part flips on every keystroke, and
  // announcing each flip would drown a screen reader user in "Unsaved changes".
  const connectionLabel = h('span', { class: 'status-connection', 'aria-live': 'polite' })
  const saveLabel = h('span', { class: 'status-save' })
  const el = h('div', { class: 'status', 'data-testid': 'status' }, connectionLabel, saveLabel)

  let attempted = false
  let loaded = false

  const render = () => {
    loaded ||= persistence.synced || provider.synced
    const status = deriveStatus({
      connected: provider.wsconnected && provider.synced,
      attempted,
      closed: !provider.shouldConnect,
      loaded,
      settled: saved.settled(),
      viewer,
    })
    const refusal = access.refusal()
    el.dataset.connection = status.connection
    el.dataset.status = status.save
    connectionLabel.textContent = refusal && status.connection === 'closed' ? refusedText[refusal] : connectionText[status.connection]
    connectionLabel.hidden = status.connection === 'connected'
    saveLabel.textContent = (viewer ? viewerSaveText : saveText)[status.save]
    // Every page load passes through "not connected yet"; saying "Offline" then would alarm.
    // A refused link has the notice under the header to explain itself; "Offline" would not.
    saveLabel.hidden = status.connection === 'connecting' || (refusal !== null && status.connection === 'closed')
  }

  provider.on('status', render)
  provider.on('sync', () => {
    attempted = true
    render()
  })
  provider.on('connection-close', () => {
    attempted = true
    render()
  })
  // Emitted after the provider gives up, which it decides only after 'connection-close'.
  provider.on('closed', render)
  persistence.on('synced', render)
  saved.onChange(render)
  access.onRefused(render)
  doc.on('update', render)
  render()
  return el
}
