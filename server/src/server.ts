/**
 * The HTTP and WebSocket front: routes requests, decides at the upgrade whether a socket may
 * exist (path, name), and wires each connection to its room. Owns the heartbeat and shutdown.
 */
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { WebSocketServer } from './commonjs.js'
import { chooseProtocol, clientAddress, httpToken, originAllowed, upgradeToken } from './access.js'
import { createAuth, type Auth, type Grant } from './auth.js'
import { ConfigError, type Config } from './config.js'
import { CommitTurn } from './commit-turn.js'
import { Connection } from './connection.js'
import { asTandemError, CloseCode, TandemError } from './errors.js'
import type { Fanout } from './fanout/fanout.js'
import type { Logger } from './log.js'
import { AddressLimits, maxFragments } from './limits.js'
import { Metrics, renderMetrics } from './metrics.js'
import { decodeName, rawPath } from './names.js'
import * as protocol from './protocol.js'
import type { ClientMessage } from './protocol.js'
import type { Room } from './room.js'
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
  /** Token checks; by default built from config.authSecret (main.ts also resolves the public key). */
  readonly auth?: Auth
  /** Certificate and key contents for native https/wss. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | null
}

const WS_PREFIX = '/ws/'
const DOC_PREFIX = '/d/'
const API_PREFIX = '/api/docs/'
const TEXT_SUFFIX = '/text'
const SHARE_SUFFIX = '/share'
/** A share link lives a day unless asked otherwise, and never more than 30 days. */
const SHARE_DEFAULT_TTL_S = 24 * 3600
const SHARE_MAX_TTL_S = 30 * 24 * 3600

/** How long shutdown waits for clients to answer the close handshake before dropping them. */
const CLOSE_GRACE_MS = 2000
/** The heartbeat visits the connections in this many slices, one per fraction of its interval. */
const HEARTBEAT_SLICES = 64

export function createServer(config: Config, deps: ServerDeps): TandemServer {
  const { store, log } = deps
  const fanout = deps.fanout ?? null
  const metrics = new Metrics()
  // The rooms commit together, a turn at a time; on a quiet server a read's room at once, where
  // a commit syncs nothing to disk (commit-turn.ts).
  const commits = new CommitTurn(store, { eager: config.sqliteSync === 'normal' && !deps.sharedStore })
  const rooms = new Rooms(
    store,
    {
      idleMs: config.roomIdleMs,
      // A document not written for 30 to 60 s gives its Y.Doc up (about nine tenths of its
      // memory); the next write builds it again, in milliseconds even for a long document.
      restCheckMs: 30_000,
      compactAfterUpdates: config.compactAfterUpdates,
      retryDelayMs: 1000,
      catchUpMs: deps.sharedStore || fanout ? config.catchUpMs : null,
      onAppend: metrics.onAppend,
      limits: config.limits,
      commits,
    },
    log,
    fanout,
  )
  /** Every open connection, and the room it joined (null while the room loads). */
  const connections = new Map<Connection, Room | null>()
  const auth = deps.auth ?? createAuth({ secret: config.authSecret, publicKeyPem: config.authPublicKey })
  const addressLimits = new AddressLimits(config.limits)
  const connectionLimits = { ...config.limits, maxMessageBytes: config.maxMessageBytes }
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxMessageBytes,
    // Explicit, so a change of ws's default cannot lift it (see limits.ts).
    maxFragments: maxFragments(config.maxMessageBytes),
    perMessageDeflate: false,
    handleProtocols: chooseProtocol,
    // `connections` below knows every socket: ws's own set would cost each connection a Set
    // entry and a close listener with its closure.
    clientTracking: false,
  })
  let nextConnectionId = 1
  let closing = false

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handleHttp(req, res).catch((err) => {
      log.error('http handler failed', { path: rawPath(req.url), err })
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('internal error\n')
    })
  }
  const server = deps.tls ? createHttpsServer(deps.tls, onRequest) : http.createServer(onRequest)
  // A client that opens a TCP connection and never finishes its request is dropped.
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = rawPath(req.url)
    const text = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
      res.end(body + '\n')
    }
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(body) + '\n')
    }
    if (req.method === 'POST' && path.startsWith(API_PREFIX) && path.endsWith(SHARE_SUFFIX)) {
      const name = decodeName(path.slice(API_PREFIX.length, -SHARE_SUFFIX.length))
      if (!name.ok) return json(400, { error: name.reason })
      return share(req, name.name, json)
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
      const decision = await auth.authorize(httpToken(req), name.name)
      if (!decision.ok) return text(decision.status, decision.reason)
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

  /** Mints a share link for a document, for a holder of an editor token for it. */
  async function share(req: http.IncomingMessage, name: string, json: (status: number, body: unknown) => void): Promise<void> {
    if (!auth.enabled) return json(404, { error: 'auth is off' })
    if (!auth.canMint) return json(501, { error: 'this server cannot mint tokens: it has no AUTH_SECRET' })
    const decision = await auth.authorize(httpToken(req), name)
    if (!decision.ok) return json(decision.status, { error: decision.reason })
    if (decision.grant.role !== 'editor') return json(403, { error: 'only editors can share' })
    let body: { role?: unknown; ttlSeconds?: unknown }
    try {
      body = JSON.parse((await readBody(req, 4096)) || '{}')
    } catch {
      return json(400, { error: 'the body must be JSON of at most 4 KiB' })
    }
    const role = body.role ?? 'viewer'
    if (role !== 'viewer' && role !== 'editor') return json(400, { error: 'role must be viewer or editor' })
    const ttl = body.ttlSeconds ?? SHARE_DEFAULT_TTL_S
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > SHARE_MAX_TTL_S) {
      return json(400, { error: `ttlSeconds must be a whole number from 1 to ${SHARE_MAX_TTL_S}` })
    }
    const token = await auth.mint({ doc: name, role, ttlSeconds: ttl })
    json(200, { token, url: `${DOC_PREFIX}${encodeURIComponent(name)}?token=${token}`, expiresAt: Date.now() + ttl * 1000 })
  }

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', ignore) // a client vanishing mid-handshake is not our error
    upgrade(req, socket, head).catch((err) => {
      log.error('upgrade failed', { err })
      refuse(socket, 500, 'internal error')
    })
  })

  /**
   * Everything about a connection is decided here, before a WebSocket or a room exists: path,
   * name, origin, per-address limits and the token. Refusals are plain HTTP answers.
   */
  async function upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = rawPath(req.url)
    if (!path.startsWith(WS_PREFIX)) return refuse(socket, 404, 'not found')
    const name = decodeName(path.slice(WS_PREFIX.length))
    if (!name.ok) return refuse(socket, 400, name.reason)
    if (closing) return refuse(socket, 503, 'server is shutting down')
    if (!originAllowed(req, config.allowedOrigins)) return refuse(socket, 403, 'origin not allowed')
    const address = clientAddress(req, config.trustProxy)
    const limited = addressLimits.admit(address)
    if (limited) return refuse(socket, 429, limited)
    // Until a connection owns the socket, its closing, however it comes (refused, gone during
    // the token check, a handshake ws rejects), gives the address's slot back; from then on
    // the connection does, when the socket closes. So this closure lives only as long as the
    // handshake, and a connection has no second 'close' listener on its socket.
    const release = () => addressLimits.release(address)
    socket.on('close', release)
    const decision = await auth.authorize(upgradeToken(req), name.name)
    if (!decision.ok) return refuse(socket, decision.status, decision.reason)
    if (socket.destroyed) return
    if (closing) return refuse(socket, 503, 'server is shutting down')
    const roomName = name.name
    const grant = decision.grant
    // The socket goes to the connection too: by now ws reads it, so its frames can be counted.
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', ignore) // ws handles the socket's errors from here on
      socket.off('close', release)
      void accept(ws, socket, roomName, address, grant)
    })
  }

  async function accept(ws: WebSocket, socket: Duplex, name: string, remote: string, grant: Grant): Promise<void> {
    const conn = new Connection(ws, {
      socket,
      id: nextConnectionId++,
      room: name,
      remote,
      log,
      metrics,
      canWrite: grant.role === 'editor',
      expiresAt: grant.expiresAt,
      limits: connectionLimits,
      addresses: addressLimits,
    })
    metrics.connectionsOpened++
    connections.set(conn, null)
    conn.onClose(connectionClosed)
    log.debug('connection opened', { conn: conn.id, room: name, remote })
    let room: Room
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
    connections.set(conn, room)
    room.join(conn)
    conn.attach(handleFrames)
  }

  // The two below serve every connection, which they are given, and find its room in
  // `connections`: a closure per connection would hold its state for the connection's life.

  function connectionClosed(conn: Connection): void {
    const joined = connections.get(conn)
    connections.delete(conn)
    if (joined) {
      joined.leave(conn)
      rooms.release(joined)
    }
  }

  function handleFrames(frames: readonly Uint8Array[], conn: Connection): void {
    const room = connections.get(conn)!
    try {
      if (frames.length === 1) room.handle(conn, protocol.decode(frames[0]!))
      else {
        // Frames before a malformed one are handled; it and those after it close the connection.
        const messages: ClientMessage[] = []
        let malformed: unknown = null
        for (const frame of frames) {
          try {
            messages.push(protocol.decode(frame))
          } catch (err) {
            malformed = err
            break
          }
        }
        room.handleAll(conn, messages)
        if (malformed !== null) throw malformed
      }
    } catch (err) {
      conn.fail(asTandemError(err))
    }
    commits.afterRead()
  }


  // The connections are pinged a slice at a time, HEARTBEAT_SLICES slices an interval: each in
  // the slice of its id, so that each is still pinged once per interval and has a whole interval
  // to answer. All at once, a ping each (and a keep-alive for the idle ones) and then every pong
  // stalled the event loop for 40-70 ms every interval with 2,000 connections, holding up every
  // keystroke in flight.
  let beat = 0
  const heartbeat = setInterval(() => {
    const slice = beat++ % HEARTBEAT_SLICES
    const now = Date.now()
    for (const conn of connections.keys()) {
      if (conn.id % HEARTBEAT_SLICES === slice) conn.heartbeat(now, config.heartbeatMs, protocol.keepAlive)
    }
    if (slice === 0) addressLimits.sweep(now)
  }, config.heartbeatMs / HEARTBEAT_SLICES)
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
        server.listen({ port: config.port, host: config.host, backlog: config.listenBacklog }, () => {
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
      // Taken now: a connection leaves `connections` as soon as it is closed.
      const open = Array.from(connections.keys())
      const shutdown = new TandemError('SHUTTING_DOWN', 'server is restarting')
      for (const conn of open) conn.close(CloseCode.serviceRestart, shutdown.message)
      // Sockets whose close frame was sent: wait briefly for the handshake, then cut them.
      await waitUntil(() => open.every((conn) => conn.socketClosed), CLOSE_GRACE_MS)
      for (const conn of open) conn.terminate()
      await rooms.closeAll()
      server.closeAllConnections()
    },
  }
}

/** https, or a start-up error naming the settings when the files are not a certificate and its key. */
function createHttpsServer(tls: { readonly cert: Buffer; readonly key: Buffer }, onRequest: http.RequestListener): https.Server {
  try {
    return https.createServer({ cert: tls.cert, key: tls.key }, onRequest)
  } catch (err) {
    throw new ConfigError('TLS_CERT/TLS_KEY', `not a PEM certificate chain and its private key: ${(err as Error).message}`)
  }
}

function ignore(): void {}

function refuse(socket: Duplex, status: number, reason: string): void {
  const body = reason + '\n'
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        // Refuse without destroying the request: the 400 must still reach the client (Node
        // discards the rest of the body, within requestTimeout).
        reject(new Error('body too large'))
      } else {
        chunks.push(chunk)
      }
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
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
