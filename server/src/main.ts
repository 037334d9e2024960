/**
 * The process entry: the only module that reads the environment or handles signals.
 * config → store → server → listen; SIGTERM/SIGINT → flush, close with 1012, exit within 10 s.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAuth } from './auth.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import type { Fanout } from './fanout/fanout.js'
import { createLogger, type Logger } from './log.js'
import { createServer } from './server.js'
import { SqliteStore } from './store/sqlite.js'
import type { Store } from './store/store.js'

const SHUTDOWN_DEADLINE_MS = 10_000

async function main(): Promise<void> {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
  let config
  try {
    config = loadConfig(process.env, { cwd: process.cwd(), repo }, `${os.hostname()}-${process.pid}`)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tandem: invalid configuration: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const log = createLogger(config.logLevel)
  const auth = orExit(() => createAuth({ secret: config.authSecret, publicKeyPem: readPublicKey(config.authPublicKey) }), 'AUTH_PUBLIC_KEY')
  const tls = orExit(
    () => (config.tls ? { cert: fs.readFileSync(config.tls.cert), key: fs.readFileSync(config.tls.key) } : null),
    'TLS_CERT/TLS_KEY',
  )
  if (!auth.enabled) {
    log.warn('auth is off: anyone who can reach this server can read and edit every document (set AUTH_SECRET to require tokens)')
  }
  const store = await openStore(config, log)
  const fanout = await openFanout(config, log)
  const server = createServer(config, { store, log, fanout, sharedStore: config.databaseUrl !== null, auth, tls })
  const address = await server.listen()
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  if (fanout) log.info('fan-out through redis', { prefix: config.redisPrefix, instance: config.instanceId })
  // Tests and scripts read this exact line to learn the port when PORT=0.
  process.stdout.write(`Tandem listening on ${tls ? 'https' : 'http'}://${config.host === 'localhost' ? 'localhost' : host}:${address.port}\n`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info('shutting down', { signal })
    const deadline = setTimeout(() => {
      log.error('shutdown deadline passed; exiting anyway')
      process.exit(1)
    }, SHUTDOWN_DEADLINE_MS)
    deadline.unref()
    server
      .close()
      .then(() => fanout?.close())
      .then(() => store.close())
      .then(
        () => process.exit(0),
        (err) => {
          log.error('shutdown failed', { err })
          process.exit(1)
        },
      )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

/** Runs a start-up step whose failure is a configuration mistake: say which, and stop. */
function orExit<T>(step: () => T, variable: string): T {
  try {
    return step()
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : `${variable}: ${(err as Error).message}`
    process.stderr.write(`tandem: invalid configuration: ${message}\n`)
    process.exit(2)
  }
}

/** AUTH_PUBLIC_KEY holds the PEM itself or names a file with it. */
function readPublicKey(value: string | null): string | null {
  if (value === null) return null
  if (value.includes('-----BEGIN')) return value.replace(/\\n/g, '\n')
  try {
    return fs.readFileSync(value, 'utf8')
  } catch (err) {
    throw new ConfigError('AUTH_PUBLIC_KEY', `neither a PEM key nor a readable file: ${(err as Error).message}`)
  }
}

/**
 * The Postgres client is imported only when DATABASE_URL is set, and the Redis client only with
 * REDIS_URL (openFanout): loaded for nothing, the two cost a single server about 10 MB of memory.
 */
async function openStore(config: Config, log: Logger): Promise<Store> {
  if (config.databaseUrl) {
    const { PostgresStore } = await import('./store/postgres.js')
    const store = await PostgresStore.open({
      connectionString: config.databaseUrl,
      schema: config.databaseSchema,
      maxConnections: 10,
    })
    log.info('store ready', { kind: 'postgres', schema: config.databaseSchema })
    return store
  }
  const store = SqliteStore.open(config.dataDir, { synchronous: config.sqliteSync })
  log.info('store ready', { kind: 'sqlite', dir: config.dataDir })
  return store
}

async function openFanout(config: Config, log: Logger): Promise<Fanout | null> {
  if (!config.redisUrl) return null
  const { RedisFanout } = await import('./fanout/redis.js')
  return new RedisFanout({ url: config.redisUrl, prefix: config.redisPrefix, instanceId: config.instanceId }, log)
}

main().catch((err) => {
  process.stderr.write(`tandem: failed to start: ${err?.stack ?? err}\n`)
  process.exit(1)
})
