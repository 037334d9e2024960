/**
 * One client socket. It owns the transport concerns (binary frames only, frames handed over a
 * read at a time, a queue for frames that arrive before the room is ready, heartbeat,
 * keep-alive, rate limits with back-pressure, slow readers, token expiry, closing with a code)
 * and knows nothing of Yjs: what a frame means is the handler's business.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { closeReason, TandemError } from './errors.js'
import { FrameCounter } from './frame-counter.js'
import { RateBudget } from './limits.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'
import { binaryFrame, frameHeader, joinedFrames } from './ws-frame.js'

/** The longest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Where the shared listeners (Connection.onMessage and the rest) find their connection: on the
 * emitter they are called on. One property per socket costs less than a closure per listener.
 */
const CONNECTION = Symbol('tandem.connection')
type Tagged = { [CONNECTION]?: Connection }

function connectionOf(emitter: object): Connection {
  return (emitter as Tagged)[CONNECTION]!
}

/**
 * EventEmitter keeps two listeners of an event in an array of two, and pushes a third onto it,
 * which makes V8 grow the array to room for 19: 144 bytes more per socket (measured: 466 against
 * 330 bytes per emitter with three listeners), for a thousand idle connections 144 KB. A copy of
 * the right size replaces it; where Node keeps its listeners otherwise, nothing is done.
 */
function exactListeners(emitter: Duplex, event: string): void {
  const events = (emitter as { _events?: Record<string | symbol, unknown> })._events
  const listeners = events?.[event]
  if (Array.isArray(listeners)) events![event] = listeners.slice()
}

export interface ConnectionLimits {
  readonly messagesPerSecond: number
  readonly bytesPerSecond: number
  readonly maxMessageBytes: number
  readonly abuseAfterSeconds: number
  readonly maxBufferedBytes: number
  readonly handshakeTimeoutMs: number
}

export interface ConnectionOptions {
  readonly id: number
  readonly room: string
  readonly remote: string
  readonly log: Logger
  readonly metrics?: Metrics
  /** Whether this peer may change the document (a viewer's updates are dropped). */
  readonly canWrite?: boolean
  /** When the peer's token expires (ms since epoch): the connection closes then. */
  readonly expiresAt?: number | null
  readonly limits?: ConnectionLimits
  /** Given back `remote`'s slot when the socket has closed (not when closing begins). */
  readonly addresses?: { release(address: string): void }
  /**
   * The byte stream under `ws`: the rate budget also charges frames that are not messages
   * (fragments, control frames), and messages are written to it already framed (ws-frame.ts).
   * Pass it only once `ws` owns the stream.
   */
  readonly socket?: Duplex
}

/** Handles frames of `conn`, in order: those of one read of its socket together. */
export type FrameHandler = (frames: readonly Uint8Array[], conn: Connection) => void

type CloseListener = (conn: Connection) => void

export class Connection {
  readonly id: number
  readonly room: string
  readonly canWrite: boolean
  private readonly ws: WebSocket
  /** The stream under `ws`: messages are written to it framed by us (see send and ws-frame.ts). */
  private readonly socket: Duplex | null
  private readonly limits: ConnectionLimits | null
  private readonly budget: RateBudget | null
  /** Counts the frames on `socket` that are not messages (see FrameCounter). */
  private readonly frames: FrameCounter | null
  /** Until the first message (see handshakeExpired). */
  private handshake: NodeJS.Timeout | null = null
  /** Other pending timers (back-pressure, expiry); made when first needed. */
  private timers: Set<NodeJS.Timeout> | null = null
  private paused = false
  private readonly log: Logger
  private readonly metrics: Metrics | null
  private readonly remote: string
  private readonly addresses: { release(address: string): void } | null
  // The queue, the timer set and the listener list are made only when needed: an idle
  // connection needs none of them, and a thousand idle sockets should cost little more than
  // the sockets themselves.
  /**
   * Frames received and not yet handled: those of the socket read in progress, or all of them
   * before attach() (nothing is handled before the room has loaded).
   */
  private queue: Uint8Array[] | null = null
  private handler: FrameHandler | null = null
  /** A single listener (the usual case) is kept as it is: an array would add some 50 bytes. */
  private closeListeners: CloseListener | CloseListener[] | null = null
  private alive = true
  /** Between onSocketData and afterSocketData: ws is parsing a read of the socket. */
  private reading = false
  private lastSentAt = Date.now()
  private closing = false
  private ended = false

  constructor(ws: WebSocket, options: ConnectionOptions) {
    this.ws = ws
    this.socket = options.socket ?? null
    this.id = options.id
    this.room = options.room
    this.remote = options.remote
    this.addresses = options.addresses ?? null
    this.log = options.log
    this.metrics = options.metrics ?? null
    this.canWrite = options.canWrite ?? true
    this.limits = options.limits ?? null
    this.budget = this.limits ? new RateBudget(this.limits) : null
    if (this.limits) {
      this.handshake = setTimeout(Connection.handshakeExpired, this.limits.handshakeTimeoutMs, this)
      this.handshake.unref()
    }
    if (options.expiresAt != null) this.expireAt(options.expiresAt)
    // The listeners are static functions shared by every connection, which find theirs on the
    // emitter: closures would cost each idle connection a few hundred bytes of heap.
    ;(ws as Tagged)[CONNECTION] = this
    this.frames = options.socket && this.budget ? new FrameCounter() : null
    if (options.socket && this.frames) {
      ;(options.socket as Tagged)[CONNECTION] = this
      // Prepended, so a chunk is charged before ws parses it: one that takes the sender past the
      // abuse limit is never handled. Safe to listen only now: a 'data' listener added before ws
      // had its own would have started the flow and taken bytes ws never saw.
      options.socket.prependListener('data', Connection.onSocketData)
      // And one after ws's own, which has then emitted every message of the read.
      options.socket.on('data', Connection.afterSocketData)
      exactListeners(options.socket, 'data')
    } else {
      // Without the socket, only a pong says the peer is there (see onSocketData).
      ws.on('pong', Connection.onPong)
    }
    ws.on('message', Connection.onMessage)
    ws.on('error', Connection.onError)
    ws.on('close', Connection.onSocketClose)
  }

  /**
   * Whatever arrives proves the peer is there, a pong or anything else: no 'pong' listener then.
   * A fourth listener on the WebSocket would cost each connection some 100 bytes of heap (its
   * event table grows).
   */
  private static onSocketData(this: Duplex, chunk: Buffer): void {
    const conn = connectionOf(this)
    conn.alive = true
    conn.reading = true
    const count = conn.frames!.count(chunk)
    if (count > 0) conn.chargeFrames(count)
  }

  /**
   * ws has parsed the read: its frames go to the handler now, together. A process.nextTick for
   * it (what receive() falls back on outside a read) cost a keystroke 15-50 µs before it was
   * even checked, on the way to its readers.
   */
  private static afterSocketData(this: Duplex): void {
    const conn = connectionOf(this)
    conn.reading = false
    Connection.handleQueued(conn)
  }

  private static onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
    connectionOf(this).receive(data, isBinary)
  }

  private static onPong(this: WebSocket): void {
    connectionOf(this).alive = true
  }

  private static onError(this: WebSocket, err: Error & { code?: string }): void {
    const conn = connectionOf(this)
    // ws closes the socket itself after a protocol error (1009 for an oversized message, 1008
    // for one in more than maxFragments pieces, 1002 for a bad frame); we only record why.
    conn.log.warn('socket error', { conn: conn.id, room: conn.room, remote: conn.remote, code: err.code, err })
  }

  private static onSocketClose(this: WebSocket, code: number): void {
    const conn = connectionOf(this)
    conn.log.debug('connection closed', { conn: conn.id, room: conn.room, code })
    // ws says 'close' once, when the TCP socket has closed.
    conn.addresses?.release(conn.remote)
    conn.end()
  }

  get isOpen(): boolean {
    return !this.closing && this.ws.readyState === this.ws.OPEN
  }

  /**
   * Starts handling frames, the queued ones first. The handler gets the connection too, so that
   * one function can serve every connection.
   */
  attach(handler: FrameHandler): void {
    this.handler = handler
    Connection.handleQueued(this)
  }

  /**
   * Hands over what was received. ws parses every frame of a socket read in one go, and this
   * runs right after (a tick), so frames that came together are handled together: the room
   * applies a run of document updates in one transaction. Static, so that no connection
   * carries a closure for it.
   */
  private static handleQueued(conn: Connection): void {
    const frames = conn.queue
    if (frames === null || conn.handler === null || conn.closing) return
    conn.queue = null
    conn.handler(frames, conn)
  }

  /**
   * Runs once the connection ends: when we close it, not when the close handshake completes.
   * The listener gets the connection, so that one function can serve every connection.
   */
  onClose(listener: CloseListener): void {
    if (this.ended) listener(this)
    else if (!this.closeListeners) this.closeListeners = listener
    else if (typeof this.closeListeners === 'function') this.closeListeners = [this.closeListeners, listener]
    else this.closeListeners.push(listener)
  }

  /**
   * A socket that opens and then says nothing holds resources for no one. Static (no closure)
   * and cleared at the first message, so that connections keep nothing for it afterwards.
   */
  private static handshakeExpired(conn: Connection): void {
    conn.handshake = null
    conn.fail(new TandemError('HANDSHAKE_TIMEOUT', 'nothing was sent after the connection opened'))
  }

  /**
   * Sends several messages in one write: as one buffer, built once for every peer handed the
   * same list (see joinedFrames), or else corked, one system call.
   */
  sendMany(messages: readonly Uint8Array[]): void {
    const socket = this.socket
    if (socket === null) {
      for (const message of messages) this.send(message)
      return
    }
    if (!this.writable()) return
    const whole = joinedFrames(messages)
    if (whole !== null) socket.write(whole)
    else {
      socket.cork()
      for (const message of messages) this.write(socket, message)
      socket.uncork()
    }
    let bytes = 0
    for (const message of messages) bytes += message.length
    this.sent(messages.length, bytes)
  }

  /** Writes a message's frame to the socket (see ws-frame.ts). */
  private write(socket: Duplex, message: Uint8Array): void {
    const whole = binaryFrame(message)
    if (whole !== null) socket.write(whole)
    else {
      socket.cork()
      socket.write(frameHeader(message.length))
      socket.write(message)
      socket.uncork()
    }
  }

  send(frame: Uint8Array): void {
    if (!this.writable()) return
    const socket = this.socket
    if (socket === null) this.ws.send(frame)
    // Framed here, once for all the peers a message goes to (see ws-frame.ts).
    else this.write(socket, frame)
    this.sent(1, frame.length)
  }

  /**
   * Whether anything may be sent. A client that does not read is closed rather than buffered
   * for without end: it resyncs from scratch when it comes back, so nothing is lost by
   * dropping what it did not read.
   */
  private writable(): boolean {
    if (this.closing || this.ws.readyState !== this.ws.OPEN) return false
    if (this.limits && this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.fail(new TandemError('SLOW_READER', 'the client is not reading fast enough'))
      const ws = this.ws
      this.later(1000, () => ws.terminate())
      return false
    }
    return true
  }

  private sent(messages: number, bytes: number): void {
    this.lastSentAt = Date.now()
    if (this.metrics) {
      this.metrics.messagesOut += messages
      this.metrics.bytesOut += bytes
    }
  }

  /** Bytes sent that are still queued in this process, not yet handed to the kernel. */
  get backlog(): number {
    return this.ws.bufferedAmount
  }

  /**
   * Calls `callback` once the queue has been written out. Only the room's catch-up of a peer
   * that fell behind waits on it, so a listener exists only while a reader is behind.
   */
  onceDrained(callback: () => void): void {
    const socket = this.socket
    if (!socket || this.closing) return
    if (socket.writableLength === 0 && !socket.writableNeedDrain) process.nextTick(callback)
    else socket.once('drain', callback)
  }

  close(code: number, reason: string): void {
    if (this.closing) return
    this.ws.close(code, closeReason(reason))
    if (this.paused) {
      // Read again, or the peer's close frame is never seen and the TCP connection (with its
      // per-address slot) lingers until ws gives up after 30 s. Frames still in flight are
      // dropped unhandled: receive() ignores everything once closing.
      this.paused = false
      this.ws.resume()
    }
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

  /** Whether the socket has closed: the close handshake is done, or the socket was cut. */
  get socketClosed(): boolean {
    return this.ws.readyState === this.ws.CLOSED
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
    if (this.ws.readyState !== this.ws.OPEN) return
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
    this.queue = null
    if (this.ended) return
    this.ended = true
    if (this.handshake) clearTimeout(this.handshake)
    for (const timer of this.timers ?? []) clearTimeout(timer)
    const listeners = typeof this.closeListeners === 'function' ? [this.closeListeners] : (this.closeListeners ?? [])
    this.closeListeners = null
    for (const listener of listeners) listener(this)
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.closing) return
    if (this.handshake) {
      clearTimeout(this.handshake)
      this.handshake = null
    }
    if (this.metrics) {
      this.metrics.messagesIn++
      this.metrics.bytesIn += data.length
    }
    if (!isBinary) {
      this.fail(new TandemError('TEXT_FRAME', 'text frames are not part of the protocol'))
      return
    }
    if (this.budget && !this.pace(this.budget.charge(data.length))) return
    if (this.queue) this.queue.push(data)
    else {
      this.queue = [data]
      // Inside a read of the socket, afterSocketData hands it over with the rest of that read.
      if (this.handler && !this.reading) process.nextTick(Connection.handleQueued, this)
    }
  }

  private chargeFrames(count: number): void {
    if (this.closing || !this.budget) return
    this.pace(this.budget.chargeFrames(count))
  }

  /** Slows a sender that is ahead of its budget, or closes one too far ahead (then false). */
  private pace(ahead: number): boolean {
    if (ahead > this.limits!.abuseAfterSeconds) {
      this.fail(new TandemError('RATE_LIMITED', 'sending far faster than the rate limit'))
      return false
    }
    if (ahead > 0) this.throttle(ahead)
    return true
  }

  /**
   * Back-pressure: stop reading the socket until the sender is within budget again. TCP then
   * fills up and slows the sender down; frames already read are still handled.
   */
  private throttle(seconds: number): void {
    if (this.paused) return
    this.paused = true
    this.ws.pause()
    this.later(seconds * 1000, () => {
      this.paused = false
      this.ws.resume()
    })
  }

  /**
   * Closes the connection when its token expires. Node fires a timer of more than 2^31-1 ms
   * (24.8 days) after 1 ms, so a far expiry (a 30-day link) is reached in steps.
   */
  private expireAt(at: number): void {
    const delay = at - Date.now()
    if (delay > MAX_TIMER_MS) {
      this.later(MAX_TIMER_MS, () => this.expireAt(at))
      return
    }
    this.later(Math.max(0, delay), () => this.fail(new TandemError('TOKEN_EXPIRED', 'the access token expired')))
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers?.delete(timer)
      fn()
    }, ms)
    timer.unref()
    this.timers ??= new Set()
    this.timers.add(timer)
  }
}
