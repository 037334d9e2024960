/**
 * One editor-like client in a load process: a Y.Doc, its Awareness, and the stock provider for
 * the server's protocol (y-websocket's WebsocketProvider for Tandem and the reference server,
 * @hocuspocus/provider for Hocuspocus). Each client has its own WebSocket.
 */
import { HocuspocusProvider } from '@hocuspocus/provider'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import type { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import type { ClientKind } from '../servers/index.js'
import { StampedWebSocket } from './arrival.js'

export const TEXT_NAME = 'codemirror'

export interface BenchClient {
  /** Which instance of the server its socket goes to (0 unless the server has several). */
  readonly instance: number
  readonly doc: Y.Doc
  readonly text: Y.Text
  readonly awareness: Awareness
  readonly synced: boolean
  /** Resolves at the next moment the client is synced (at once if it is now). */
  whenSynced(): Promise<void>
  connect(): void
  /** Closes the socket and stops reconnecting. */
  disconnect(): void
  /** Sends an update exactly as the provider sends a local change, without applying it locally. */
  sendUpdate(update: Uint8Array): void
  /** Bytes queued on the socket and not yet handed to the kernel. */
  bufferedAmount(): number
  /**
   * With `stamped`: clock() when the bytes being decoded now reached the process (NaN outside a
   * decode, or without `stamped`).
   */
  arrivedAt(): number
  /** How often its connection has gone from connected to disconnected (a drop, or disconnect()). */
  readonly drops: number
  destroy(): void
}

export interface ClientOptions {
  /** Announce a user in awareness, as an editor does. */
  readonly user?: { readonly name: string; readonly color: string }
  readonly connect?: boolean
  /** Recorded on the client: the index of the instance `url` belongs to. */
  readonly instance?: number
  /** Read the socket as bytes arrive and decode later (arrival.ts), for a reader's latency. */
  readonly stamped?: boolean
  /** Send back every awareness state applied, as y-websocket's provider does (Params.echo). */
  readonly echo?: boolean
}

/** The socket class a provider opens, and how to read its arrival stamp. */
function socketClass(options: ClientOptions) {
  if (!options.stamped) return { Socket: WebSocket, arrivedAt: () => NaN }
  return { Socket: StampedWebSocket, arrivedAt: (ws: unknown) => (ws instanceof StampedWebSocket ? ws.arrivedAt : NaN) }
}

export function createClient(kind: ClientKind, url: string, room: string, options: ClientOptions = {}): BenchClient {
  return kind === 'hocuspocus' ? hocuspocusClient(url, room, options) : yWebsocketClient(url, room, options)
}

function syncWaiter(isSynced: () => boolean, on: (listener: (synced: boolean) => void) => void) {
  let waiters: Array<() => void> = []
  on((synced) => {
    if (!synced) return
    const ready = waiters
    waiters = []
    for (const resolve of ready) resolve()
  })
  return (): Promise<void> =>
    isSynced() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))
}

function yWebsocketClient(url: string, room: string, options: ClientOptions): BenchClient {
  const doc = new Y.Doc()
  const { Socket, arrivedAt } = socketClass(options)
  const provider = new WebsocketProvider(url, room, doc, {
    connect: options.connect ?? true,
    // Every client lives in this one process: without this they would sync through
    // BroadcastChannel instead of through the server.
    disableBc: true,
    WebSocketPolyfill: Socket as unknown as typeof globalThis.WebSocket,
  })
  // WebsocketProvider re-sends every awareness change it applies, other users' included (its
  // handler ignores the origin); @hocuspocus/provider sends only its own. So that every server
  // receives the same traffic, the echo of what came from the server is dropped here, unless
  // the run measures stock clients as they are (--echo).
  if (!options.echo) {
    const internal = provider as unknown as { _awarenessUpdateHandler: (changes: unknown, origin: unknown) => void }
    const echoing = internal._awarenessUpdateHandler
    provider.awareness.off('update', echoing)
    provider.awareness.on('update', (changes: unknown, origin: unknown) => {
      if (origin !== provider) echoing(changes, origin)
    })
  }
  if (options.user) provider.awareness.setLocalStateField('user', options.user)
  let drops = 0
  let wasConnected = false
  provider.on('status', ({ status }: { status: string }) => {
    if (wasConnected && status === 'disconnected') drops++
    wasConnected = status === 'connected'
  })
  const whenSynced = syncWaiter(
    () => provider.synced,
    (listener) => provider.on('sync', listener),
  )
  return {
    instance: options.instance ?? 0,
    doc,
    text: doc.getText(TEXT_NAME),
    awareness: provider.awareness,
    get synced() {
      return provider.synced
    },
    whenSynced,
    connect: () => provider.connect(),
    disconnect: () => provider.disconnect(),
    sendUpdate: (update) => (provider as unknown as { _updateHandler(u: Uint8Array, o: unknown): void })._updateHandler(update, null),
    bufferedAmount: () => provider.ws?.bufferedAmount ?? 0,
    arrivedAt: () => arrivedAt(provider.ws),
    get drops() {
      return drops
    },
    destroy: () => {
      provider.destroy()
      doc.destroy()
    },
  }
}

function hocuspocusClient(url: string, room: string, options: ClientOptions): BenchClient {
  const doc = new Y.Doc()
  const { Socket, arrivedAt } = socketClass(options)
  const provider = new HocuspocusProvider({
    url,
    name: room,
    document: doc,
    WebSocketPolyfill: Socket,
  } as ConstructorParameters<typeof HocuspocusProvider>[0])
  if (options.connect === false) provider.disconnect()
  const awareness = provider.awareness!
  if (options.user) awareness.setLocalStateField('user', options.user)
  const whenSynced = syncWaiter(
    () => provider.isSynced,
    (listener) => provider.on('synced', ({ state }: { state: boolean }) => listener(state)),
  )
  const socket = () => provider.configuration.websocketProvider.webSocket as unknown as { bufferedAmount: number } | null
  let drops = 0
  let wasConnected = false
  provider.on('status', ({ status }: { status: string }) => {
    if (wasConnected && status === 'disconnected') drops++
    wasConnected = status === 'connected'
  })
  return {
    instance: options.instance ?? 0,
    doc,
    text: doc.getText(TEXT_NAME),
    awareness,
    get synced() {
      return provider.isSynced
    },
    whenSynced,
    connect: () => void provider.connect().catch(() => {}),
    disconnect: () => provider.disconnect(),
    sendUpdate: (update) => provider.documentUpdateHandler(update, null),
    bufferedAmount: () => socket()?.bufferedAmount ?? 0,
    arrivedAt: () => arrivedAt(socket()),
    get drops() {
      return drops
    },
    destroy: () => {
      provider.destroy()
      doc.destroy()
    },
  }
}
