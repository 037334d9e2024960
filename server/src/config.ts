/**
 * Configuration from the environment. Read once by main.ts and passed down; every value is
 * validated here so a bad setting stops start-up with a message naming the variable, instead of
 * surfacing later as a strange runtime failure.
 */
import path from 'node:path'
import { logLevels, type LogLevel } from './log.js'

export interface Config {
  /** TCP port to listen on; 0 picks a free one (tests). */
  readonly port: number
  readonly host: string
  readonly listenBacklog: number
  /** Folder of the SQLite store; created when missing. */
  readonly dataDir: string
  /** Folder with the built client (index.html and assets). */
  readonly clientDir: string
  /** Largest WebSocket message accepted; larger ones close the connection with 1009. */
  readonly maxMessageBytes: number
  /** How long a room with no clients stays loaded before it is flushed and unloaded. */
  readonly roomIdleMs: number
  /** Ping interval; a socket that missed one pong is terminated. Also the keep-alive interval. */
  readonly heartbeatMs: number
  /** Stored updates after the snapshot before the room writes a new snapshot. */
  readonly compactAfterUpdates: number
  /** SQLite `synchronous` pragma: normal survives a process crash, full also a power loss. */
  readonly sqliteSync: 'normal' | 'full'
  readonly logLevel: LogLevel
  /** Postgres connection string; when set, documents live there instead of SQLite. */
  readonly databaseUrl: string | null
  /** Postgres schema for Tandem's tables. */
  readonly databaseSchema: string
  /** Redis connection string; when set, instances fan updates and presence out to each other. */
  readonly redisUrl: string | null
  /** Prefix of Tandem's Redis channels (lets several clusters share one Redis). */
  readonly redisPrefix: string
  /** This instance's name in metrics, logs and cross-instance messages. */
  readonly instanceId: string
  /** How often a room in a shared store checks it missed nothing another instance stored. */
  readonly catchUpMs: number
  /** HS256 secret; with it (or a public key) every document needs a token. */
  readonly authSecret: string | null
  /** A PEM public key, or the path of a file holding one (main.ts reads it), for RS256/ES256. */
  readonly authPublicKey: string | null
  /** Origins, besides the server's own, whose pages may open WebSockets here. */
  readonly allowedOrigins: readonly string[]
  /** Whether X-Forwarded-For names the client (behind a proxy you run). */
  readonly trustProxy: boolean
  /** Paths of a certificate chain and key for native https/wss. */
  readonly tls: { readonly cert: string; readonly key: string } | null
  readonly limits: Limits
}

/** Every abuse limit; docs/security.md says why each default is what it is. */
export interface Limits {
  readonly maxDocBytes: number
  readonly messagesPerSecond: number
  readonly bytesPerSecond: number
  /** How far (in seconds of budget) a sender may run ahead before it is cut off. */
  readonly abuseAfterSeconds: number
  readonly maxConnectionsPerIp: number
  readonly maxConnectsPerMinutePerIp: number
  readonly maxAwarenessStates: number
  readonly maxAwarenessStateBytes: number
  readonly maxBufferedBytes: number
  readonly maxPendingBytes: number
  readonly handshakeTimeoutMs: number
}

export class ConfigError extends Error {
  readonly variable: string
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`)
    this.name = 'ConfigError'
    this.variable = variable
  }
}

export type Env = Readonly<Record<string, string | undefined>>

/** One row per setting: the README's table is checked against this list by a test. */
export const settings = [
  { name: 'PORT', default: '1234', doc: 'TCP port for HTTP and WebSocket; 0 picks a free port.' },
  { name: 'HOST', default: 'localhost', doc: 'Interface to listen on (0.0.0.0 for all).' },
  { name: 'LISTEN_BACKLOG', default: '4096', doc: 'Connections the kernel holds for the server to accept (capped by net.core.somaxconn); a reconnect storm larger than this waits a second for TCP to retry.' },
  { name: 'DATA_DIR', default: './data', doc: 'Folder of the SQLite store, created when missing.' },
  { name: 'CLIENT_DIR', default: './client/dist', doc: 'Folder of the built editor served over HTTP.' },
  { name: 'MAX_MESSAGE_BYTES', default: '4194304', doc: 'Largest WebSocket message (4 MiB); larger closes with 1009.' },
  { name: 'ROOM_IDLE_MS', default: '30000', doc: 'How long an empty room stays loaded before it is flushed and unloaded.' },
  { name: 'HEARTBEAT_MS', default: '15000', doc: 'Ping and keep-alive interval; a socket that sends nothing, not even a pong, between two pings is dropped.' },
  { name: 'COMPACT_AFTER_UPDATES', default: '1000', doc: 'Stored updates after the last snapshot that trigger a new snapshot.' },
  { name: 'SQLITE_SYNCHRONOUS', default: 'normal', doc: '`normal` survives a process crash; `full` also survives power loss, at an fsync per commit.' },
  { name: 'LOG_LEVEL', default: 'info', doc: 'debug, info, warn, error or silent.' },
  { name: 'DATABASE_URL', default: '', doc: 'Postgres URL (`postgres://user@host:5432/db`): store documents there, shared by every instance, instead of SQLite.' },
  { name: 'DATABASE_SCHEMA', default: 'public', doc: 'Postgres schema for Tandem\'s tables, created when missing.' },
  { name: 'REDIS_URL', default: '', doc: 'Redis URL (`redis://host:6379`): fan updates and presence out between instances. Needs DATABASE_URL.' },
  { name: 'REDIS_PREFIX', default: 'tandem', doc: 'Prefix of Tandem\'s Redis channels.' },
  { name: 'INSTANCE_ID', default: '<host>-<pid>', doc: 'This instance\'s name in metrics, logs and cross-instance messages.' },
  { name: 'AUTH_SECRET', default: '', doc: 'HS256 secret (32+ characters). When set (or AUTH_PUBLIC_KEY), every document needs a token; `npm run token` mints them.' },
  { name: 'AUTH_PUBLIC_KEY', default: '', doc: 'PEM public key (or a path to one) for RS256/ES256 tokens minted elsewhere.' },
  { name: 'ALLOWED_ORIGINS', default: '', doc: 'Comma-separated origins (`https://app.example.com`) whose pages may connect, besides the server\'s own.' },
  { name: 'TRUST_PROXY', default: 'false', doc: '`true` when behind your own reverse proxy: per-IP limits then use X-Forwarded-For.' },
  { name: 'TLS_CERT', default: '', doc: 'Certificate chain (PEM file) for native https/wss; needs TLS_KEY.' },
  { name: 'TLS_KEY', default: '', doc: 'Private key (PEM file) for TLS_CERT.' },
  { name: 'MAX_DOC_BYTES', default: '33554432', doc: 'Largest stored size of one document (32 MiB); an update past it is refused (4413).' },
  { name: 'MESSAGES_PER_SECOND', default: '300', doc: 'Sustained messages per connection (a message sent in n pieces counts n); bursts of 10 s worth pass.' },
  { name: 'BYTES_PER_SECOND', default: '1048576', doc: 'Sustained bytes per connection (1 MiB/s); a message up to MAX_MESSAGE_BYTES always passes.' },
  { name: 'ABUSE_AFTER_SECONDS', default: '10', doc: 'A sender further than this ahead of its budget is closed (4429); before that it is only slowed.' },
  { name: 'MAX_CONNECTIONS_PER_IP', default: '100', doc: 'Concurrent WebSockets per client address (429 at the upgrade beyond).' },
  { name: 'MAX_CONNECTS_PER_MINUTE', default: '300', doc: 'New WebSockets per client address per minute (429 beyond).' },
  { name: 'MAX_AWARENESS_STATES', default: '8', doc: 'Presence states one connection may own.' },
  { name: 'MAX_AWARENESS_STATE_BYTES', default: '16384', doc: 'Largest presence state (JSON bytes).' },
  { name: 'MAX_BUFFERED_BYTES', default: '16777216', doc: 'Unsent bytes a slow reader may queue before it is dropped (1013; it resyncs on return).' },
  { name: 'MAX_PENDING_BYTES', default: '4194304', doc: 'Bytes of updates waiting for missing dependencies a document may hold.' },
  { name: 'HANDSHAKE_TIMEOUT_MS', default: '10000', doc: 'A WebSocket that sends nothing this long after opening is dropped (4408).' },
  { name: 'CATCH_UP_MS', default: '5000', doc: 'With a shared store, how often a room checks that it missed nothing another instance stored (the safety net under Redis).' },
] as const

type SettingName = (typeof settings)[number]['name']

function raw(env: Env, name: SettingName): string {
  const value = env[name]
  if (value === undefined || value.trim() === '') return settings.find((s) => s.name === name)!.default
  return value.trim()
}

function integer(env: Env, name: SettingName, min: number, max: number): number {
  const text = raw(env, name)
  if (!/^\d+$/.test(text)) throw new ConfigError(name, `expected a whole number, got ${JSON.stringify(text)}`)
  const value = Number(text)
  if (value < min || value > max) throw new ConfigError(name, `expected a number from ${min} to ${max}, got ${value}`)
  return value
}

function oneOf<T extends string>(env: Env, name: SettingName, allowed: readonly T[]): T {
  const text = raw(env, name).toLowerCase()
  if (!(allowed as readonly string[]).includes(text)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`)
  }
  return text as T
}

function url(env: Env, name: SettingName, protocols: readonly string[]): string | null {
  const text = raw(env, name)
  if (text === '') return null
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    throw new ConfigError(name, 'not a URL')
  }
  // Never echo the URL itself: it may hold a password.
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.map((p) => p + '//').join(' or ')} URL, got ${parsed.protocol}//...`)
  }
  return text
}

function identifier(env: Env, name: SettingName): string {
  const text = raw(env, name)
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(text)) {
    throw new ConfigError(name, `expected lower-case letters, digits and _ (not first), got ${JSON.stringify(text)}`)
  }
  return text
}

function secret(env: Env): string | null {
  const text = raw(env, 'AUTH_SECRET')
  if (text === '') return null
  // HS256 is only as strong as its key: refuse the short secrets people type by hand.
  if (text.length < 32) throw new ConfigError('AUTH_SECRET', `must be at least 32 characters, got ${text.length}`)
  return text
}

function origins(env: Env): string[] {
  const text = raw(env, 'ALLOWED_ORIGINS')
  if (text === '') return []
  return text.split(',').map((item) => {
    const origin = item.trim()
    let parsed: URL
    try {
      parsed = new URL(origin)
    } catch {
      throw new ConfigError('ALLOWED_ORIGINS', `not an origin: ${JSON.stringify(origin)}`)
    }
    if (parsed.origin !== origin) {
      throw new ConfigError('ALLOWED_ORIGINS', `expected scheme://host[:port] with no path, got ${JSON.stringify(origin)} (did you mean ${parsed.origin}?)`)
    }
    return origin
  })
}

function tls(env: Env, cwd: string): { cert: string; key: string } | null {
  const cert = raw(env, 'TLS_CERT')
  const key = raw(env, 'TLS_KEY')
  if (cert === '' && key === '') return null
  if (cert === '') throw new ConfigError('TLS_CERT', 'TLS_KEY is set but TLS_CERT is not: both are needed for https')
  if (key === '') throw new ConfigError('TLS_KEY', 'TLS_CERT is set but TLS_KEY is not: both are needed for https')
  return { cert: path.resolve(cwd, cert), key: path.resolve(cwd, key) }
}

/**
 * `baseDir` anchors relative paths (the repository root, not the caller's cwd, for CLIENT_DIR);
 * `defaultInstanceId` is what INSTANCE_ID defaults to (main.ts passes host name and pid).
 */
export function loadConfig(env: Env, baseDir: { cwd: string; repo: string }, defaultInstanceId = 'tandem'): Config {
  const host = raw(env, 'HOST')
  if (!/^[\w.\-:\[\]]+$/.test(host)) throw new ConfigError('HOST', `not a host name or address: ${JSON.stringify(host)}`)
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'])
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:'])
  // Fan-out between instances that each keep their own SQLite file would relay edits that the
  // other instances never store: refuse the half-configured cluster instead.
  if (redisUrl && !databaseUrl) {
    throw new ConfigError('REDIS_URL', 'needs DATABASE_URL: instances that share edits through Redis must share one Postgres store')
  }
  const instanceText = raw(env, 'INSTANCE_ID')
  const instanceId = instanceText === '<host>-<pid>' ? defaultInstanceId : instanceText
  if (!/^[\w.\-]{1,64}$/.test(instanceId)) {
    throw new ConfigError('INSTANCE_ID', `expected 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(instanceId)}`)
  }
  const redisPrefix = raw(env, 'REDIS_PREFIX')
  if (!/^[\w.\-:]{1,64}$/.test(redisPrefix)) {
    throw new ConfigError('REDIS_PREFIX', `expected 1-64 letters, digits, '.', ':', '_' or '-', got ${JSON.stringify(redisPrefix)}`)
  }
  return Object.freeze({
    port: integer(env, 'PORT', 0, 65535),
    host,
    // Node's default is 511: after a restart every client reconnects at once, and those past
    // the queue had their connection dropped and retried by TCP a second later.
    listenBacklog: integer(env, 'LISTEN_BACKLOG', 1, 65535),
    dataDir: path.resolve(baseDir.cwd, raw(env, 'DATA_DIR')),
    clientDir: path.resolve(baseDir.repo, raw(env, 'CLIENT_DIR')),
    maxMessageBytes: integer(env, 'MAX_MESSAGE_BYTES', 1024, 512 * 1024 * 1024),
    roomIdleMs: integer(env, 'ROOM_IDLE_MS', 0, 24 * 3600 * 1000),
    // Stock y-websocket clients reconnect after 30 s without a message: the keep-alive must come sooner.
    heartbeatMs: integer(env, 'HEARTBEAT_MS', 100, 25_000),
    compactAfterUpdates: integer(env, 'COMPACT_AFTER_UPDATES', 1, 10_000_000),
    sqliteSync: oneOf(env, 'SQLITE_SYNCHRONOUS', ['normal', 'full'] as const),
    logLevel: oneOf(env, 'LOG_LEVEL', logLevels),
    databaseUrl,
    databaseSchema: identifier(env, 'DATABASE_SCHEMA'),
    redisUrl,
    redisPrefix,
    instanceId,
    catchUpMs: integer(env, 'CATCH_UP_MS', 50, 3600 * 1000),
    authSecret: secret(env),
    authPublicKey: raw(env, 'AUTH_PUBLIC_KEY') || null,
    allowedOrigins: origins(env),
    trustProxy: oneOf(env, 'TRUST_PROXY', ['true', 'false'] as const) === 'true',
    tls: tls(env, baseDir.cwd),
    limits: Object.freeze({
      maxDocBytes: integer(env, 'MAX_DOC_BYTES', 1024, 2 ** 40),
      messagesPerSecond: integer(env, 'MESSAGES_PER_SECOND', 1, 1_000_000),
      bytesPerSecond: integer(env, 'BYTES_PER_SECOND', 1024, 2 ** 40),
      abuseAfterSeconds: integer(env, 'ABUSE_AFTER_SECONDS', 1, 3600),
      maxConnectionsPerIp: integer(env, 'MAX_CONNECTIONS_PER_IP', 1, 10_000_000),
      maxConnectsPerMinutePerIp: integer(env, 'MAX_CONNECTS_PER_MINUTE', 1, 10_000_000),
      maxAwarenessStates: integer(env, 'MAX_AWARENESS_STATES', 1, 10_000),
      maxAwarenessStateBytes: integer(env, 'MAX_AWARENESS_STATE_BYTES', 64, 16 * 1024 * 1024),
      maxBufferedBytes: integer(env, 'MAX_BUFFERED_BYTES', 65536, 2 ** 40),
      maxPendingBytes: integer(env, 'MAX_PENDING_BYTES', 1024, 2 ** 40),
      handshakeTimeoutMs: integer(env, 'HANDSHAKE_TIMEOUT_MS', 100, 3600 * 1000),
    }),
  })
}
