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
  { name: 'DATA_DIR', default: './data', doc: 'Folder of the SQLite store, created when missing.' },
  { name: 'CLIENT_DIR', default: './client/dist', doc: 'Folder of the built editor served over HTTP.' },
  { name: 'MAX_MESSAGE_BYTES', default: '8388608', doc: 'Largest WebSocket message (8 MiB); larger closes with 1009.' },
  { name: 'ROOM_IDLE_MS', default: '30000', doc: 'How long an empty room stays loaded before it is flushed and unloaded.' },
  { name: 'HEARTBEAT_MS', default: '15000', doc: 'Ping and keep-alive interval; a socket that misses a pong is dropped.' },
  { name: 'COMPACT_AFTER_UPDATES', default: '1000', doc: 'Stored updates after the last snapshot that trigger a new snapshot.' },
  { name: 'SQLITE_SYNCHRONOUS', default: 'normal', doc: '`normal` survives a process crash; `full` also survives power loss, at an fsync per commit.' },
  { name: 'LOG_LEVEL', default: 'info', doc: 'debug, info, warn, error or silent.' },
  { name: 'DATABASE_URL', default: '', doc: 'Postgres URL (`postgres://user@host:5432/db`): store documents there, shared by every instance, instead of SQLite.' },
  { name: 'DATABASE_SCHEMA', default: 'public', doc: 'Postgres schema for Tandem\'s tables, created when missing.' },
  { name: 'REDIS_URL', default: '', doc: 'Redis URL (`redis://host:6379`): fan updates and presence out between instances. Needs DATABASE_URL.' },
  { name: 'REDIS_PREFIX', default: 'tandem', doc: 'Prefix of Tandem\'s Redis channels.' },
  { name: 'INSTANCE_ID', default: '<host>-<pid>', doc: 'This instance\'s name in metrics, logs and cross-instance messages.' },
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
  })
}
