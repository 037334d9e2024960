/**
 * One client socket. It owns the transport concerns (binary frames only, a queue for frames that
 * arrive before the room is ready, heartbeat, keep-alive, closing with a code) and knows nothing
 * of Yjs: what a frame means is the handler's business.
 */
import { WebSocket } from 'ws'
import { closeReason, TandemError } from './errors.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'

export interface ConnectionOptions {
  readonly id: number
  readonly room: string
  readonly remote: string
  readonly log: Logger
  readonly metrics?: Metrics
}

export class Connection {
  readonly id: number
  readonly room: string
  private readonly ws: WebSocket
  private readonly log: Logger
  private readonly metrics: Metrics | null
  private readonly remote: string
  /** Frames received before attach(): nothing is handled before the room has loaded. */
  private queue: Uint8Array[] = []
  private handler: ((frame: Uint8Array) => void) | null = null
  private closeListeners: Array<() => void> = []
  private alive = true
  private lastSentAt = Date.now()
  private closing = false
  private ended = false

  constructor(ws: WebSocket, options: ConnectionOptions) {
    this.ws = ws
    this.id = options.id
    this.room = options.room
    this.remote = options.remote
    this.log = options.log
    this.metrics = options.metrics ?? null
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary))
    ws.on('pong', () => {
      this.alive = true
    })
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the socket itself after a protocol error (1009 for an oversized message, 1002
      // for a bad frame); we only record why.
      this.log.warn('socket error', { conn: this.id, room: this.room, remote: this.remote, code: err.code, err })
    })
    ws.on('close', (code) => {
      this.log.debug('connection closed', { conn: this.id, room: this.room, code })
      this.end()
    })
  }

  get isOpen(): boolean {
    return !this.closing && this.ws.readyState === WebSocket.OPEN
  }

  /** Starts handling frames, the queued ones first. */
  attach(handler: (frame: Uint8Array) => void): void {
    this.handler = handler
    const queued = this.queue
    this.queue = []
    for (const frame of queued) {
      if (this.closing) return
      handler(frame)
    }
  }

  /** Runs once the connection ends: when we close it, not when the close handshake completes. */
  onClose(listener: () => void): void {
    if (this.ended) listener()
    else this.closeListeners.push(listener)
  }

  send(frame: Uint8Array): void {
    if (this.closing || this.ws.readyState !== WebSocket.OPEN) return
    this.ws.send(frame)
    this.lastSentAt = Date.now()
    if (this.metrics) {
      this.metrics.messagesOut++
      this.metrics.bytesOut += frame.length
    }
  }

  close(code: number, reason: string): void {
    if (this.closing) return
    this.ws.close(code, closeReason(reason))
    this.end()
  }

  /** Closes with the error's code, logging it once with its context. */
  fail(err: TandemError): void {
    if (this.closing) return
    if (this.metrics) this.metrics.closedWithError++
    const level = err.code === 'INTERNAL' ? 'error' : 'warn'
    this.log[level]('closing connection', {
      conn: this.id,
      room: this.room,
      remote: this.remote,
      code: err.code,
      close: err.closeCode,
      err: err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message,
    })
    this.close(err.closeCode, err.message)
  }

  /** Drops the socket without a close handshake (a peer that stopped answering). */
  terminate(): void {
    this.ws.terminate()
    this.end()
  }

  /**
   * Called every heartbeat interval: a socket that did not answer the last ping is dead; an idle
   * one gets `keepAlive` so clients that time out on silence stay connected.
   */
  heartbeat(now: number, intervalMs: number, keepAlive: Uint8Array): void {
    if (this.ws.readyState !== WebSocket.OPEN) return
    if (!this.alive) {
      this.log.info('no pong; terminating', { conn: this.id, room: this.room, remote: this.remote })
      this.terminate()
      return
    }
    this.alive = false
    this.ws.ping()
    if (now - this.lastSentAt >= intervalMs * 0.9) this.send(keepAlive)
  }

  /** The peer is gone for the room's purposes (its presence must go at once), however it ended. */
  private end(): void {
    this.closing = true
    this.queue = []
    if (this.ended) return
    this.ended = true
    const listeners = this.closeListeners
    this.closeListeners = []
    for (const listener of listeners) listener()
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.closing) return
    if (this.metrics) {
      this.metrics.messagesIn++
      this.metrics.bytesIn += data.length
    }
    if (!isBinary) {
      this.fail(new TandemError('TEXT_FRAME', 'text frames are not part of the protocol'))
      return
    }
    if (this.handler) this.handler(data)
    else this.queue.push(data)
  }
}
