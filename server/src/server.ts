/**
 * The HTTP and WebSocket front: routes requests, decides at the upgrade whether a socket may
 * exist (path, name), and wires each connection to its room. Owns the heartbeat and shutdown.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Config } from './config.js'
import { Connection } from './connection.js'
import { asTandemError, CloseCode, TandemError } from './errors.js'
import type { Fanout } from './fanout/fanout.js'
import type { Logger } from './log.js'
import { Metrics, renderMetrics } from './metrics.js'
import { decodeName, rawPath } from './names.js'
import * as protocol from './protocol.js'
import { Rooms } from './rooms.js'
import { sendAsset, sendIndex } from './static.js'
import type { Store } from './store/store.js'

export interface TandemServer {
  readonly http: http.Server
  /** Resolves with the bound address once listening. */
  listen(): Promise<AddressInfo>
  /**
   * Stops accepting, closes every socket with 1012, flushes every room. The store is the
   * caller's to close afterwards.
   */
  close(): Promise<void>
  stats(): { rooms: number; connections: number }
}

export interface ServerDeps {
  readonly store: Store
  readonly log: Logger
  /** Fan-out to other instances sharing the store; absent on a single instance. */
  readonly fanout?: Fanout | null
  /** Shared store (Postgres): rooms then catch up on what other instances stored. */
  readonly sharedStore?: boolean
}

const WS_PREFIX = '/ws/'
const DOC_PREFIX = '/d/'
const API_PREFIX = '/api/docs/'
const TEXT_SUFFIX = '/text'

/** How long shutdown waits for clients to answer the close handshake before dropping them. */
const CLOSE_GRACE_MS = 2000

export function createServer(config: Config, deps: ServerDeps): TandemServer {
  const { store, log } = deps
  const fanout = deps.fanout ?? null
  const metrics = new Metrics()
  const rooms = new Rooms(
    store,
    {
      idleMs: config.roomIdleMs,
      compactAfterUpdates: config.compactAfterUpdates,
      retryDelayMs: 1000,
      catchUpMs: deps.sharedStore || fanout ? config.catchUpMs : null,
      onAppend: metrics.onAppend,
    },
    log,
    fanout,
  )
  const connections = new Set<Connection>()
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxMessageBytes, perMessageDeflate: false })
  let nextConnectionId = 1
  let closing = false

  const server = http.createServer((req, res) => {
    handleHttp(req, res).catch((err) => {
      log.error('http handler failed', { url: req.url, err })
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('internal error\n')
    })
  })

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = rawPath(req.url)
    const text = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
      res.end(body + '\n')
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed')
    if (path === '/healthz') {
      const storeUp = await storeAnswers()
      const redis = fanout ? (fanout.status().connected ? 'ok' : 'down') : 'off'
      // Redis down degrades (rooms converge through the store) but does not stop an instance.
      const ok = !closing && storeUp
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify({ ok, instance: config.instanceId, store: storeUp ? 'ok' : 'error', redis, ...stats() }) + '\n')
      return
    }
    if (path === '/metrics') {
      const redisStatus = fanout?.status()
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' })
      res.end(
        renderMetrics(metrics, {
          instance: config.instanceId,
          ...stats(),
          storeUp: await storeAnswers(),
          redis: redisStatus ? { up: redisStatus.connected, lagMs: redisStatus.lagMs } : null,
        }),
      )
      return
    }
    if (path.startsWith(API_PREFIX) && path.endsWith(TEXT_SUFFIX)) {
      const name = decodeName(path.slice(API_PREFIX.length, -TEXT_SUFFIX.length))
      if (!name.ok) return text(400, name.reason)
      const content = await rooms.text(name.name)
      if (content === null) return text(404, 'no such document')
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
      res.end(content)
      return
    }
    if (path === '/' || path === '/index.html') return sendIndex(config.clientDir, res)
    if (path.startsWith(DOC_PREFIX)) {
      const name = decodeName(path.slice(DOC_PREFIX.length))
      if (!name.ok) return text(400, name.reason)
      return sendIndex(config.clientDir, res)
    }
    sendAsset(config.clientDir, path, res, () => text(404, 'not found'))
  }

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {}) // a client vanishing mid-handshake is not our error
    const path = rawPath(req.url)
    if (!path.startsWith(WS_PREFIX)) return refuse(socket, 404, 'not found')
    const name = decodeName(path.slice(WS_PREFIX.length))
    if (!name.ok) return refuse(socket, 400, name.reason)
    if (closing) return refuse(socket, 503, 'server is shutting down')
    const remote = req.socket.remoteAddress ?? 'unknown'
    wss.handleUpgrade(req, socket, head, (ws) => void accept(ws, name.name, remote))
  })

  async function accept(ws: WebSocket, name: string, remote: string): Promise<void> {
    const conn = new Connection(ws, { id: nextConnectionId++, room: name, remote, log, metrics })
    metrics.connectionsOpened++
    connections.add(conn)
    conn.onClose(() => connections.delete(conn))
    log.debug('connection opened', { conn: conn.id, room: name, remote })
    let room
    try {
      room = await rooms.acquire(name)
    } catch (err) {
      conn.fail(asTandemError(err))
      return
    }
    if (!conn.isOpen) {
      // Gone while the room loaded (or the server began closing).
      rooms.release(room)
      return
    }
    conn.onClose(() => {
      room.leave(conn)
      rooms.release(room)
    })
    room.join(conn)
    conn.attach((frame) => {
      try {
        room.handle(conn, protocol.decode(frame))
      } catch (err) {
        conn.fail(asTandemError(err))
      }
    })
  }

  const heartbeat = setInterval(() => {
    const now = Date.now()
    for (const conn of connections) conn.heartbeat(now, config.heartbeatMs, protocol.keepAlive)
  }, config.heartbeatMs)
  heartbeat.unref()

  async function storeAnswers(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('store did not answer within 2 s')), 2000)
    })
    try {
      await Promise.race([store.ping(), timeout])
      return true
    } catch (err) {
      log.warn('store health check failed', { err })
      return false
    } finally {
      clearTimeout(timer)
    }
  }

  function stats() {
    return { rooms: rooms.loadedCount, connections: connections.size }
  }

  return {
    http: server,
    stats,
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(config.port, config.host, () => {
          server.off('error', reject)
          resolve(server.address() as AddressInfo)
        })
      })
    },
    async close() {
      if (closing) return
      closing = true
      clearInterval(heartbeat)
      server.close()
      const sockets = Array.from(wss.clients)
      const shutdown = new TandemError('SHUTTING_DOWN', 'server is restarting')
      for (const conn of connections) conn.close(CloseCode.serviceRestart, shutdown.message)
      // Sockets whose close frame was sent: wait briefly for the handshake, then cut them.
      await waitUntil(() => sockets.every((ws) => ws.readyState === ws.CLOSED), CLOSE_GRACE_MS)
      for (const ws of sockets) ws.terminate()
      await rooms.closeAll()
      server.closeAllConnections()
    },
  }
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const body = reason + '\n'
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}

function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs
    const check = () => {
      if (condition() || Date.now() >= deadline) return resolve()
      setTimeout(check, 20)
    }
    check()
  })
}
