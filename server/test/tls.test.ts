/**
 * Native TLS (TLS_CERT, TLS_KEY): the real server process, started as in production with the
 * test-only certificate in fixtures/tls, speaks https and wss to a client that trusts that
 * certificate, refuses one that does not, and does not speak plain HTTP on its port. A missing
 * certificate or key stops start-up with a message naming the variable.
 */
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import path from 'node:path'
import WebSocket from 'ws'
import { Cleanup } from './helpers/cleanup.js'
import { converged, stockClient } from './helpers/clients.js'
import { childEnv, REPO_ROOT, runToExit, spawnServer, type ScriptRun } from './helpers/server.js'
import { within } from './helpers/wait.js'
import { test } from './helpers/test.js'

const FIXTURES = path.join(REPO_ROOT, 'server/test/fixtures/tls')
const CERT = path.join(FIXTURES, 'localhost.crt')
const KEY = path.join(FIXTURES, 'localhost.key')
/** The certificate is self-signed: trusting it is trusting its own CA. */
const CA = fs.readFileSync(CERT)

/** `ws` with the test CA trusted, constructed as the stock provider does: (url, protocols). */
class TrustingWebSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols ?? [], { ca: CA })
  }
}

interface Answer {
  readonly status: number
  readonly body: string
}

/** One GET over https (with `ca` trusted, or the system's roots) or plain http. */
function get(url: string, ca?: Buffer): Promise<Answer> {
  const client = url.startsWith('https:') ? https : http
  return within(
    new Promise<Answer>((resolve, reject) => {
      const req = client.get(url, ca ? { ca } : {}, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        res.on('error', reject)
      })
      req.on('error', reject)
    }),
    { message: `no answer from ${url}` },
  )
}

test('1. with TLS_CERT and TLS_KEY: https and wss for a client that trusts the certificate, nothing in plain http', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await spawnServer(cleanup, { dataDir: cleanup.tempDir(), env: { TLS_CERT: CERT, TLS_KEY: KEY } })
  assert.match(server.stdout(), /Tandem listening on https:\/\//)
  assert.ok(server.httpUrl.startsWith('https://'), server.httpUrl)

  const healthz = await get(`${server.httpUrl}/healthz`, CA)
  assert.equal(healthz.status, 200, healthz.body)
  assert.equal((JSON.parse(healthz.body) as { ok: boolean }).ok, true)
  // Also by name: the certificate covers localhost as well as 127.0.0.1.
  assert.equal((await get(`https://localhost:${server.port}/healthz`, CA)).status, 200)

  // Without the CA the certificate is not trusted: it really is TLS with this certificate.
  await assert.rejects(get(`${server.httpUrl}/healthz`), (err: NodeJS.ErrnoException) => {
    assert.match(String(err.code), /SELF_SIGNED/)
    return true
  })

  // Two stock y-websocket providers over wss edit and converge; the API agrees over https.
  const a = await stockClient(cleanup, server.wsUrl, 'secret plans', { WebSocket: TrustingWebSocket })
  const b = await stockClient(cleanup, server.wsUrl, 'secret plans', { WebSocket: TrustingWebSocket })
  assert.ok(server.wsUrl.startsWith('wss://'), server.wsUrl)
  a.text.insert(0, 'over ')
  b.text.insert(0, 'wss: ')
  const [text] = await converged([a, b])
  assert.equal(text!.length, 10)
  assert.deepEqual([...a.closeCodes, ...b.closeCodes], [])
  const api = await get(`${server.httpUrl}/api/docs/${encodeURIComponent('secret plans')}/text`, CA)
  assert.equal(api.status, 200)
  assert.equal(api.body, text)

  // Plain http on the TLS port gets no HTTP answer: the TLS handshake fails and the socket ends.
  await assert.rejects(get(`http://127.0.0.1:${server.port}/healthz`), (err: NodeJS.ErrnoException) => {
    assert.match(String(err.code ?? err.message), /ECONNRESET|socket hang up|HPE_/)
    return true
  })
  // ...and neither does a plain ws:// upgrade.
  const plain = new WebSocket(`ws://127.0.0.1:${server.port}/ws/secret`)
  const failed = await within(
    new Promise<string>((resolve) => {
      plain.once('open', () => resolve('open'))
      plain.once('unexpected-response', () => resolve('answered'))
      plain.once('error', (err) => resolve(`error: ${err.message}`))
    }),
    { message: 'the plain ws:// upgrade neither opened nor failed' },
  )
  assert.match(failed, /^error:/)
  // The refusals cost nothing: the server still serves the trusting client.
  assert.equal((await get(`${server.httpUrl}/healthz`, CA)).status, 200)
})

test('2. a TLS_CERT or TLS_KEY that cannot be used stops start-up with a message naming it', async (t) => {
  const cleanup = new Cleanup(t)
  const dir = cleanup.tempDir()
  const missing = path.join(dir, 'no-such-cert.pem')
  const garbage = path.join(dir, 'garbage.pem')
  fs.writeFileSync(garbage, 'not a certificate\n')
  // A real key, but not the certificate's.
  const otherKey = path.join(dir, 'other.key')
  fs.writeFileSync(otherKey, crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const run = (env: Record<string, string>): Promise<ScriptRun> =>
    runToExit(cleanup, 'server/src/main.ts', [], childEnv({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: cleanup.tempDir(), ...env }))
  const [badPath, noKey, noCert, notPem, wrongKey] = await Promise.all([
    run({ TLS_CERT: missing, TLS_KEY: KEY }),
    run({ TLS_CERT: CERT, TLS_KEY: '' }),
    run({ TLS_CERT: '', TLS_KEY: KEY }),
    run({ TLS_CERT: garbage, TLS_KEY: KEY }),
    run({ TLS_CERT: CERT, TLS_KEY: otherKey }),
  ])
  assert.equal(badPath.code, 2, badPath.stderr)
  assert.match(badPath.stderr, /invalid configuration: .*TLS_CERT/)
  assert.ok(badPath.stderr.includes(missing), `the message does not name the file: ${badPath.stderr}`)
  assert.equal(noKey.code, 2, noKey.stderr)
  assert.match(noKey.stderr, /invalid configuration: TLS_KEY/)
  assert.equal(noCert.code, 2, noCert.stderr)
  assert.match(noCert.stderr, /invalid configuration: TLS_CERT/)
  // Files that exist but are no certificate and key for each other: refused when the server is
  // made, before it listens (main.ts reports it as a failed start, exit 1).
  for (const [what, result] of [['a certificate that is not PEM', notPem], ['a key that is not the certificate’s', wrongKey]] as const) {
    assert.notEqual(result.code, 0, `${what}: ${result.stderr}`)
    assert.match(result.stderr, /TLS_CERT\/TLS_KEY: not a PEM certificate chain and its private key/, what)
  }
  for (const result of [badPath, noKey, noCert, notPem, wrongKey]) assert.doesNotMatch(result.stdout, /listening/)
})
