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

/** `baseDir` anchors relative paths (the repository root, not the caller's cwd, for CLIENT_DIR). */
export function loadConfig(env: Env, baseDir: { cwd: string; repo: string }): Config {
  const host = raw(env, 'HOST')
  if (!/^[\w.\-:\[\]]+$/.test(host)) throw new ConfigError('HOST', `not a host name or address: ${JSON.stringify(host)}`)
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
  })
}
