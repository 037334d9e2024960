/**
 * Fan-out over Redis pub/sub: one channel per document, one for instance heartbeats.
 *
 * Redis may drop anything (a disconnect, a restart, a slow subscriber), and that is allowed:
 * publishing never queues while disconnected, and after every reconnect the rooms catch up from
 * the store. Heartbeats let the others drop a dead instance's presence within seconds instead of
 * waiting for awareness's 30 s timeout.
 */
import { Redis } from 'ioredis'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { Logger } from '../log.js'
import { decodeEnvelope, encodeEnvelope, type Envelope, type Fanout, type FanoutMessage } from './fanout.js'

export interface RedisFanoutOptions {
  readonly url: string
  readonly prefix: string
  readonly instanceId: string
  /** How often this instance says it is alive. */
  readonly heartbeatMs?: number
  /** Silence after which another instance counts as gone. */
  readonly goneAfterMs?: number
}

const ALIVE = 0
const BYE = 1
/** Alive, and dropped publishes since its last beat: what it stored meanwhile is only in the store. */
const MISSED = 2

export class RedisFanout implements Fanout {
  readonly instanceId: string
  private readonly pub: Redis
  private readonly sub: Redis
  private readonly prefix: string
  private readonly log: Logger
  private readonly handlers = new Map<string, (envelope: Envelope) => void>()
  private readonly resumeListeners: Array<() => void> = []
  private readonly goneListeners: Array<(id: string) => void> = []
  /** Other instances and when each was last heard from. */
  private readonly peers = new Map<string, number>()
  private readonly heartbeat: NodeJS.Timeout
  private readonly goneAfterMs: number
  private lagMs: number | null = null
  private everReady = false
  private lostSinceReady = false
  /** A publish was dropped (publisher not ready) since the last MISSED beat went out. */
  private unsent = false
  private closed = false

  constructor(options: RedisFanoutOptions, log: Logger) {
    this.instanceId = options.instanceId
    this.prefix = options.prefix
    this.log = log
    this.goneAfterMs = options.goneAfterMs ?? 5000
    const common = {
      // Reconnect quickly and forever: Redis coming back is the normal end of an outage.
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
      maxRetriesPerRequest: null,
      connectionName: `tandem:${options.instanceId}`,
    }
    // The publisher never queues: a message held until Redis returns would be stale, and the
    // catch-up on resume delivers the same content from the store.
    this.pub = new Redis(options.url, { ...common, enableOfflineQueue: false })
    this.sub = new Redis(options.url, { ...common, autoResubscribe: true })
    for (const [role, client] of [['publisher', this.pub], ['subscriber', this.sub]] as const) {
      client.on('error', (err: Error) => this.log.debug('redis error', { role, err }))
    }
    this.sub.on('close', () => {
      if (this.everReady && !this.lostSinceReady && !this.closed) {
        this.lostSinceReady = true
        this.log.warn('redis connection lost; rooms will catch up from the store when it returns')
      }
    })
    // The subscribers of other instances may be up all along: tell them at once, not at the
    // next heartbeat, that they missed something.
    this.pub.on('ready', () => {
      if (this.unsent) void this.beat(ALIVE)
    })
    this.sub.on('ready', () => {
      if (this.lostSinceReady) {
        this.lostSinceReady = false
        // Silence while we could not hear proves nothing: count it from now.
        const now = Date.now()
        for (const id of this.peers.keys()) this.peers.set(id, now)
        this.log.info('redis connection back; catching up')
        for (const listener of this.resumeListeners) listener()
      }
      this.everReady = true
    })
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.receive(channel.toString(), message))
    void this.sub.subscribe(this.instancesChannel).catch(() => {})
    const heartbeatMs = options.heartbeatMs ?? 1000
    this.heartbeat = setInterval(() => this.beat(ALIVE), heartbeatMs)
    this.heartbeat.unref()
  }

  async subscribe(name: string, handler: (envelope: Envelope) => void): Promise<void> {
    this.handlers.set(this.docChannel(name), handler)
    await this.handshakeDone()
    await this.sub.subscribe(this.docChannel(name))
  }

  async unsubscribe(name: string): Promise<void> {
    this.handlers.delete(this.docChannel(name))
    if (this.closed) return
    await this.handshakeDone() // keeps it behind a subscribe that waits there
    await this.sub.unsubscribe(this.docChannel(name)).catch(() => {})
  }

  publish(name: string, message: FanoutMessage): void {
    if (this.pub.status !== 'ready') {
      this.unsent = true
      return
    }
    const bytes = encodeEnvelope({ from: this.instanceId, sentAt: Date.now(), message })
    this.pub.publish(this.docChannel(name), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).catch((err: Error) => {
      this.unsent = true
      this.log.debug('redis publish failed', { room: name, err })
    })
  }

  onResume(listener: () => void): void {
    this.resumeListeners.push(listener)
  }

  onInstanceGone(listener: (instanceId: string) => void): void {
    this.goneListeners.push(listener)
  }

  status(): { connected: boolean; lagMs: number | null } {
    return { connected: this.pub.status === 'ready' && this.sub.status === 'ready', lagMs: this.lagMs }
  }

  async close(): Promise<void> {
    if (this.closed) return
    clearInterval(this.heartbeat)
    // Saying goodbye lets the others drop our presence at once rather than after a timeout.
    await this.beat(BYE)
    this.closed = true
    this.pub.disconnect()
    this.sub.disconnect()
  }

  /**
   * While the subscriber connection is in its handshake (status 'connect'), ioredis writes
   * SUBSCRIBE at once; the reply puts the connection in subscriber mode, the ready check (INFO)
   * then fails, ioredis reconnects and forgets that subscription and the ones it had queued (the
   * instances channel). In every other status SUBSCRIBE is safe: sent when ready, queued before.
   */
  private async handshakeDone(): Promise<void> {
    while (this.sub.status === 'connect') {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.sub.off('ready', done)
          this.sub.off('close', done)
          resolve()
        }
        this.sub.once('ready', done)
        this.sub.once('close', done)
      })
    }
  }

  private get instancesChannel(): string {
    return `${this.prefix}:instances`
  }

  private docChannel(name: string): string {
    return `${this.prefix}:doc:${name}`
  }

  private async beat(kind: number): Promise<void> {
    this.expireSilentPeers()
    if (this.pub.status !== 'ready') return
    // Rides on the heartbeat, so it is retried every beat until it goes out.
    const missed = kind === ALIVE && this.unsent
    if (missed) this.unsent = false
    const encoder = encoding.createEncoder()
    encoding.writeVarString(encoder, this.instanceId)
    encoding.writeVarUint(encoder, missed ? MISSED : kind)
    await this.pub.publish(this.instancesChannel, Buffer.from(encoding.toUint8Array(encoder))).catch(() => {
      if (missed) this.unsent = true
    })
  }

  private expireSilentPeers(): void {
    // While we cannot hear anyone, silence proves nothing about them.
    if (this.sub.status !== 'ready') return
    const now = Date.now()
    for (const [id, seen] of this.peers) if (now - seen > this.goneAfterMs) this.gone(id)
  }

  private gone(id: string): void {
    if (!this.peers.delete(id)) return
    this.log.info('instance gone', { instance: id })
    for (const listener of this.goneListeners) listener(id)
  }

  private receive(channel: string, bytes: Buffer): void {
    try {
      if (channel === this.instancesChannel) {
        const decoder = decoding.createDecoder(bytes)
        const id = decoding.readVarString(decoder)
        const kind = decoding.readVarUint(decoder)
        if (id === this.instanceId) return
        if (kind === BYE) {
          this.peers.set(id, 0)
          this.gone(id)
        } else {
          this.peers.set(id, Date.now())
          if (kind === MISSED) {
            this.log.info('another instance dropped fan-out messages; catching up', { instance: id })
            for (const listener of this.resumeListeners) listener()
          }
        }
        return
      }
      const handler = this.handlers.get(channel)
      if (!handler) return
      const envelope = decodeEnvelope(bytes)
      if (envelope.from === this.instanceId) return // Redis echoes our own publishes
      this.peers.set(envelope.from, Date.now())
      this.lagMs = Math.max(0, Date.now() - envelope.sentAt)
      handler(envelope)
    } catch (err) {
      this.log.warn('dropping a malformed fan-out message', { channel, err })
    }
  }
}
