/**
 * Clients for tests: the stock y-websocket provider (unchanged, over `ws`), and a raw socket that
 * speaks bytes and records everything it receives.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { TEXT_NAME } from '../../src/room.js'
import type { Cleanup } from './cleanup.js'
import { decodeServerFrame, type ServerFrame } from './frames.js'
import { waitFor, within, type WaitOptions } from './wait.js'

export interface StockClient {
  readonly doc: Y.Doc
  readonly text: Y.Text
  readonly provider: WebsocketProvider
  /** Close codes of every connection the provider lost (1012 on restart, 4400 on a bad frame...). */
  readonly closeCodes: number[]
  destroy(): void
}

export interface StockClientOptions {
  /** URL parameters, as an app passes them (`{ token }`). */
  readonly params?: Record<string, string>
  /** A document to connect (with content made offline, say); a fresh one by default. */
  readonly doc?: Y.Doc
  /** The WebSocket class the provider uses; `ws`'s by default (a subclass can trust a test CA). */
  readonly WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket
}

/**
 * A stock WebsocketProvider, synced once before it is returned. BroadcastChannel is disabled: in
 * one Node process every provider of a room would otherwise exchange updates through it and
 * bypass the server under test.
 */
export async function stockClient(
  cleanup: Cleanup,
  wsUrl: string,
  name: string,
  options: StockClientOptions = {},
): Promise<StockClient> {
  const doc = options.doc ?? new Y.Doc()
  const provider = new WebsocketProvider(wsUrl, name, doc, {
    // `ws` implements the browser WebSocket API the provider uses; the DOM type differs in detail.
    WebSocketPolyfill: (options.WebSocket ?? WebSocket) as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    params: options.params ?? {},
  })
  const closeCodes: number[] = []
  provider.on('connection-close', (event) => {
    if (event) closeCodes.push(event.code)
  })
  let destroyed = false
  const client: StockClient = {
    doc,
    text: doc.getText(TEXT_NAME),
    provider,
    closeCodes,
    destroy() {
      if (destroyed) return
      destroyed = true
      provider.awareness.destroy()
      provider.destroy()
      doc.destroy()
    },
  }
  cleanup.add(() => client.destroy())
  await synced(client, `${name}: first sync`)
  return client
}

export async function synced(client: StockClient, what = 'sync', timeoutMs = 10_000): Promise<void> {
  await waitFor(() => client.provider.synced, { timeoutMs, message: `${what}: provider never synced` })
}

/**
 * Waits until every client holds exactly the same document (state vector and delete set: a delete
 * does not advance a clock, so state vectors alone would call it converged too early), then
 * returns the texts.
 */
export async function converged(clients: readonly StockClient[], options: Partial<WaitOptions> = {}): Promise<string[]> {
  const same = () => {
    const first = Y.snapshot(clients[0]!.doc)
    return clients.every((c) => Y.equalSnapshots(first, Y.snapshot(c.doc)))
  }
  await waitFor(same, {
    timeoutMs: options.timeoutMs ?? 10_000,
    message: () =>
      `clients did not converge; state vectors: ${clients
        .map((c) => JSON.stringify(Array.from(Y.decodeStateVector(Y.encodeStateVector(c.doc)))))
        .join(' | ')}; texts: ${clients.map((c) => JSON.stringify(c.text.toString())).join(' | ')}`,
  })
  return clients.map((c) => c.text.toString())
}

export interface Closed {
  readonly code: number
  readonly reason: string
}

export interface RawConnectOptions {
  readonly autoPong?: boolean
  /** Extra request headers (Origin, X-Forwarded-For, ...). */
  readonly headers?: Record<string, string>
  readonly protocols?: string[]
}

/** A raw socket: sends bytes, records every frame it receives (decoded) and how it closed. */
export class RawClient {
  readonly ws: WebSocket
  readonly frames: ServerFrame[] = []
  readonly raw: Uint8Array[] = []
  /** When each ping the server sent us arrived (performance.now()). */
  readonly pingTimes: number[] = []
  readonly closed: Promise<Closed>
  private closedWith: Closed | null = null

  private constructor(ws: WebSocket) {
    this.ws = ws
    ws.binaryType = 'nodebuffer'
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) throw new Error(`server sent a text frame: ${data.toString()}`)
      const bytes = new Uint8Array(data)
      this.raw.push(bytes)
      this.frames.push(decodeServerFrame(bytes))
    })
    ws.on('ping', () => this.pingTimes.push(performance.now()))
    ws.on('error', () => {}) // surfaced through `closed` (1006) instead
    this.closed = new Promise((resolve) =>
      ws.once('close', (code: number, reason: Buffer) => {
        this.closedWith = { code, reason: reason.toString() }
        resolve(this.closedWith)
      }),
    )
  }

  /** Number of pings the server sent us. */
  get pings(): number {
    return this.pingTimes.length
  }

  /** Opens a socket to `url` (a full ws:// URL) and waits for the handshake. */
  static async connect(cleanup: Cleanup, url: string, options: RawConnectOptions = {}): Promise<RawClient> {
    const ws = new WebSocket(url, options.protocols ?? [], {
      autoPong: options.autoPong ?? true,
      perMessageDeflate: false,
      headers: { ...options.headers },
    })
    const client = new RawClient(ws)
    cleanup.add(async () => {
      if (ws.readyState !== WebSocket.CLOSED) ws.terminate()
      await client.closed
    })
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)))
        ws.once('error', reject)
      }),
      { message: `websocket to ${url} did not open` },
    )
    return client
  }

  get isClosed(): boolean {
    return this.closedWith !== null
  }

  send(bytes: Uint8Array | string): void {
    this.ws.send(bytes)
  }

  /** Waits for a received frame matching `predicate` (looking at frames already received too). */
  waitFrame<K extends ServerFrame['kind']>(
    kind: K,
    predicate: (frame: Extract<ServerFrame, { kind: K }>) => boolean = () => true,
    options: Partial<WaitOptions> = {},
  ): Promise<Extract<ServerFrame, { kind: K }>> {
    return waitFor(
      () =>
        this.frames.find(
          (f): f is Extract<ServerFrame, { kind: K }> => f.kind === kind && predicate(f as Extract<ServerFrame, { kind: K }>),
        ),
      {
        timeoutMs: options.timeoutMs ?? 10_000,
        message: options.message ?? (() => `no ${kind} frame matched; received: ${this.frames.map((f) => f.kind).join(', ')}`),
      },
    )
  }

  /** Waits for the socket to close and returns how. */
  waitClosed(options: Partial<WaitOptions> = {}): Promise<Closed> {
    return within(this.closed, { timeoutMs: options.timeoutMs ?? 10_000, message: options.message ?? 'socket did not close' })
  }
}

/**
 * The HTTP status of a WebSocket upgrade to `url`: 101 when accepted (the socket is then closed),
 * the refusal's status otherwise.
 */
export function upgradeStatus(url: string, options: { headers?: Record<string, string> } = {}): Promise<number> {
  const ws = new WebSocket(url, { headers: { ...options.headers } })
  return within(
    new Promise<number>((resolve, reject) => {
      ws.once('open', () => {
        ws.terminate()
        resolve(101)
      })
      ws.once('unexpected-response', (req, res) => {
        res.resume()
        req.destroy()
        resolve(res.statusCode ?? 0)
      })
      ws.on('error', (err) => reject(err))
    }),
    { message: `no answer to the upgrade of ${url}` },
  )
}
