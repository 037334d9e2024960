/**
 * The connection and saved indicator. `deriveStatus` is the whole policy, as a pure function of
 * what the provider, IndexedDB and the server's `saved` answers have said; the element only
 * re-renders it. The data-* values are a contract: the e2e tests read them.
 */
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
  return { connection, save: i.settled ? 'saved' : 'unsaved' }
}

const connectionText: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  connected: '',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected: reload to retry',
}

const saveText: Record<SaveState, string> = {
  loading: 'Loading…',
  saved: 'Saved',
  unsaved: 'Unsaved changes',
  offline: 'Offline: saved on this device',
}

export function statusIndicator(collab: Collab, saved: SavedTracker): HTMLElement {
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
    })
    el.dataset.connection = status.connection
    el.dataset.status = status.save
    connectionLabel.textContent = connectionText[status.connection]
    connectionLabel.hidden = status.connection === 'connected'
    saveLabel.textContent = saveText[status.save]
    // Every page load passes through "not connected yet"; saying "Offline" then would alarm.
    saveLabel.hidden = status.connection === 'connecting'
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
  doc.on('update', render)
  render()
  return el
}
