/**
 * Configuration: the defaults, a clear ConfigError naming the variable for every bad value, the
 * process refusing to start on one, and the README documenting every setting.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ConfigError, loadConfig, settings } from '../src/config.js'
import { Cleanup } from './helpers/cleanup.js'
import { childEnv, REPO_ROOT } from './helpers/server.js'
import { within } from './helpers/wait.js'
import { test } from './helpers/test.js'

const base = { cwd: '/srv/tandem', repo: '/opt/tandem' }

test('1. defaults', () => {
  const config = loadConfig({}, base)
  assert.deepEqual(
    { ...config },
    {
      port: 1234,
      host: 'localhost',
      listenBacklog: 4096,
      dataDir: '/srv/tandem/data',
      clientDir: '/opt/tandem/client/dist',
      maxMessageBytes: 4 * 1024 * 1024,
      roomIdleMs: 30_000,
      heartbeatMs: 15_000,
      compactAfterUpdates: 1000,
      sqliteSync: 'normal',
      logLevel: 'info',
      databaseUrl: null,
      databaseSchema: 'public',
      redisUrl: null,
      redisPrefix: 'tandem',
      instanceId: 'tandem',
      catchUpMs: 5000,
      authSecret: null,
      authPublicKey: null,
      allowedOrigins: [],
      trustProxy: false,
      tls: null,
      limits: {
        maxDocBytes: 32 * 1024 * 1024,
        messagesPerSecond: 300,
        bytesPerSecond: 1024 * 1024,
        abuseAfterSeconds: 10,
        maxConnectionsPerIp: 100,
        maxConnectsPerMinutePerIp: 300,
        maxAwarenessStates: 8,
        maxAwarenessStateBytes: 16384,
        maxBufferedBytes: 16 * 1024 * 1024,
        maxPendingBytes: 4 * 1024 * 1024,
        handshakeTimeoutMs: 10_000,
      },
    },
  )
  assert.ok(Object.isFrozen(config))
})

test('2. every documented default is what loadConfig uses', () => {
  const fromDefaults = loadConfig(Object.fromEntries(settings.map((s) => [s.name, s.default])), base)
  assert.deepEqual({ ...fromDefaults }, { ...loadConfig({}, base) })
})

test('3. values are trimmed, blanks mean the default, enums ignore case, paths resolve', () => {
  const config = loadConfig(
    {
      PORT: ' 8080 ',
      HOST: '0.0.0.0',
      DATA_DIR: '/var/lib/tandem',
      CLIENT_DIR: 'web',
      MAX_MESSAGE_BYTES: '',
      ROOM_IDLE_MS: '0',
      HEARTBEAT_MS: '100',
      LISTEN_BACKLOG: '128',
      COMPACT_AFTER_UPDATES: '1',
      SQLITE_SYNCHRONOUS: 'FULL',
      LOG_LEVEL: 'Debug',
    },
    base,
  )
  assert.equal(config.port, 8080)
  assert.equal(config.host, '0.0.0.0')
  assert.equal(config.dataDir, '/var/lib/tandem')
  assert.equal(config.clientDir, '/opt/tandem/web')
  assert.equal(config.maxMessageBytes, 4 * 1024 * 1024)
  assert.equal(config.roomIdleMs, 0)
  assert.equal(config.heartbeatMs, 100)
  assert.equal(config.listenBacklog, 128)
  assert.equal(config.compactAfterUpdates, 1)
  assert.equal(config.sqliteSync, 'full')
  assert.equal(config.logLevel, 'debug')
  assert.equal(loadConfig({ PORT: '0' }, base).port, 0)
  assert.equal(loadConfig({ HOST: '::1' }, base).host, '::1')
})

test('4. each bad value throws a ConfigError naming the variable', () => {
  const bad: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '1.5'],
    ['PORT', '0x50'],
    ['HOST', 'bad host'],
    ['HOST', 'evil/path'],
    ['MAX_MESSAGE_BYTES', '10'],
    ['MAX_MESSAGE_BYTES', '8MB'],
    ['ROOM_IDLE_MS', 'soon'],
    ['ROOM_IDLE_MS', String(25 * 3600 * 1000)],
    ['HEARTBEAT_MS', '60000'],
    ['HEARTBEAT_MS', '50'],
    ['LISTEN_BACKLOG', '0'],
    ['LISTEN_BACKLOG', 'lots'],
    ['COMPACT_AFTER_UPDATES', '0'],
    ['SQLITE_SYNCHRONOUS', 'maybe'],
    ['SQLITE_SYNCHRONOUS', 'off'],
    ['LOG_LEVEL', 'loud'],
  ]
  for (const [name, value] of bad) {
    assert.throws(
      () => loadConfig({ [name]: value }, base),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${name}=${value}: expected a ConfigError, got ${String(err)}`)
        assert.equal(err.variable, name)
        assert.ok(err.message.startsWith(`${name}: `), `${name}=${value}: message ${JSON.stringify(err.message)}`)
        return true
      },
      `${name}=${JSON.stringify(value)} should be refused`,
    )
  }
})

test('5. main.ts with a bad PORT exits non-zero, naming PORT on stderr', async (t) => {
  const cleanup = new Cleanup(t)
  const dataDir = cleanup.tempDir()
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: REPO_ROOT,
    env: childEnv({ PORT: 'abc', DATA_DIR: dataDir, HOST: '127.0.0.1' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  cleanup.add(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  let stdout = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  const [code] = await within(
    new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s]))),
    { timeoutMs: 15_000, message: 'main.ts with PORT=abc did not exit' },
  )
  assert.notEqual(code, 0, `exit code; stderr:\n${stderr}`)
  assert.notEqual(code, null)
  assert.match(stderr, /^.*\bPORT\b.*$/m)
  assert.doesNotMatch(stdout, /listening/)
  // Nothing was opened: the bad value stopped start-up before the store.
  assert.deepEqual(fs.readdirSync(dataDir), [])
})

test('6. main.ts with valid settings announces its address (localhost by default), serves, and stops on SIGINT', async (t) => {
  const cleanup = new Cleanup(t)
  const dataDir = cleanup.tempDir()
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: REPO_ROOT,
    env: childEnv({ PORT: '0', DATA_DIR: dataDir, HOST: '', LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])))
  cleanup.add(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  let stdout = ''
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const port = await within(
    new Promise<number>((resolve) =>
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        const match = /^Tandem listening on http:\/\/localhost:(\d+)$/m.exec(stdout)
        if (match) resolve(Number(match[1]))
      }),
    ),
    { timeoutMs: 15_000, message: () => `no listening line; stdout:\n${stdout}\nstderr:\n${stderr}` },
  )
  assert.ok(port > 0)
  const res = await fetch(`http://localhost:${port}/healthz`)
  assert.equal(res.status, 200)
  const health = (await res.json()) as Record<string, unknown>
  assert.deepEqual({ ...health, instance: undefined }, { ok: true, instance: undefined, store: 'ok', redis: 'off', rooms: 0, connections: 0 })
  assert.match(String(health.instance), /-\d+$/, 'INSTANCE_ID defaults to <host>-<pid>')
  assert.ok(fs.existsSync(path.join(dataDir, 'tandem.sqlite')), 'the store was not created in DATA_DIR')

  child.kill('SIGINT')
  const [code] = await within(exited, { timeoutMs: 10_000, message: 'no exit after SIGINT' })
  assert.equal(code, 0, `exit code after SIGINT; stderr:\n${stderr}`)
})

/** The README's configuration table must list every setting, with its default. */
test('7. README.md documents every setting and its default in its configuration table', () => {
  const readmePath = path.join(REPO_ROOT, 'README.md')
  assert.ok(fs.existsSync(readmePath), `${readmePath} does not exist`)
  const cells = fs
    .readFileSync(readmePath, 'utf8')
    .split('\n')
    .filter((line) => /^\s*\|/.test(line))
    .map((row) => row.split('|').map((cell) => cell.trim().replace(/^`(.*)`$/, '$1')))
  for (const setting of settings) {
    const row = cells.find((c) => c[1] === setting.name)
    assert.ok(row, `README.md has no table row whose first column is ${setting.name}`)
    // An empty default means "unset", which the README spells (none).
    assert.equal(row[2], setting.default === '' ? '(none)' : setting.default, `README.md's default for ${setting.name}`)
  }
})
