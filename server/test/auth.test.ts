/**
 * Tokens at the WebSocket upgrade (docs/security.md, "Tokens"): HS256 with AUTH_SECRET, RS256 and
 * ES256 with AUTH_PUBLIC_KEY, each checked against an algorithm allowlist; every forged, expired
 * or foreign token refused before a socket exists (401), a token for other documents refused with
 * 403; a token offered as a subprotocol never echoed; `exp` honoured during the connection (4401).
 */
import assert from 'node:assert/strict'
import { decodeProtectedHeader, decodeJwt } from 'jose'
import { createAuth, grants, looksLikeJwt, parseTtl } from '../src/auth.js'
import { Cleanup } from './helpers/cleanup.js'
import { RawClient, upgradeStatus } from './helpers/clients.js'
import { savedQuery } from './helpers/hostile.js'
import { startServer } from './helpers/server.js'
import { keyPair, nowSeconds, rawUpgrade, SECRET, sign, token, unsignedToken } from './helpers/tokens.js'
import { test } from './helpers/test.js'

const DOC = 'plans'
const withToken = (wsUrl: string, name: string, value: string) => `${wsUrl}/${encodeURIComponent(name)}?token=${encodeURIComponent(value)}`

/** A raw client that sends one savedQuery(n) and waits for its answer: proof the socket is served. */
async function roundTrip(client: RawClient, n: number): Promise<void> {
  client.send(savedQuery(n))
  const answer = client.waitFrame('saved', (f) => f.id === n, { message: `no saved(${n})` })
  const closed = client.closed.then((c) => Promise.reject(new Error(`closed with ${c.code} (${c.reason}) before saved(${n})`)))
  closed.catch(() => {})
  await Promise.race([answer, closed])
}

test('1. HS256 (AUTH_SECRET, with an RSA AUTH_PUBLIC_KEY too): good tokens open, every forgery gets 401, another document 403', async (t) => {
  const cleanup = new Cleanup(t)
  const rsa = keyPair('rsa')
  const stranger = keyPair('rsa')
  const server = await startServer(cleanup, { env: { AUTH_SECRET: SECRET, AUTH_PUBLIC_KEY: rsa.publicPem } })
  const editor = { doc: DOC, role: 'editor' }
  const valid = await token(editor)
  // The same token with its payload changed to claim every document, signature kept.
  const [header, , signature] = valid.split('.')
  const tampered = `${header}.${Buffer.from(JSON.stringify({ ...editor, doc: '*', exp: nowSeconds() + 3600 })).toString('base64url')}.${signature}`

  const cases: Array<[string, string | null, number]> = [
    ['no token', null, 401],
    ['a valid HS256 editor token', valid, 101],
    ['a valid HS256 viewer token', await token({ doc: DOC, role: 'viewer' }), 101],
    ['a valid RS256 token from the identity service', await sign(editor, rsa.privateKey, 'RS256'), 101],
    ['not a JWT at all', 'hello', 401],
    ['an empty token', '', 401],
    ['signed with another secret', await sign(editor, SECRET.replace('a', 'b')), 401],
    ['payload changed after signing', tampered, 401],
    ['expired a minute ago', await token({ ...editor, exp: nowSeconds() - 60 }), 401],
    ['alg: none, no signature', unsignedToken(editor), 401],
    ['HS512 with the right secret (algorithm not allowed)', await sign(editor, SECRET, 'HS512'), 401],
    ['HS384 with the right secret (algorithm not allowed)', await sign(editor, SECRET, 'HS384'), 401],
    ['HS256 signed with the RSA public key PEM as the secret (algorithm confusion)', await sign(editor, rsa.publicPem), 401],
    ['RS256 signed by someone else’s key', await sign(editor, stranger.privateKey, 'RS256'), 401],
    ['RS512 with the right key (algorithm not allowed)', await sign(editor, rsa.privateKey, 'RS512'), 401],
    ['PS256 with the right key (algorithm not allowed)', await sign(editor, rsa.privateKey, 'PS256'), 401],
    ['a role that does not exist', await token({ doc: DOC, role: 'admin' }), 401],
    ['a token for another document', await token({ doc: 'other', role: 'editor' }), 403],
    ['a token without a doc claim', await token({ role: 'editor' }), 403],
  ]
  const check = async ([title, value, status]: (typeof cases)[number]) => {
    const url = value === null ? `${server.wsUrl}/${DOC}` : withToken(server.wsUrl, DOC, value)
    assert.equal(await upgradeStatus(url), status, title)
  }
  for (const refused of cases.filter(([, , status]) => status !== 101)) await check(refused)
  // Each refusal came before a room or a connection existed.
  assert.deepEqual(server.server.stats(), { rooms: 0, connections: 0 }, 'a refused upgrade loaded a room')
  for (const accepted of cases.filter(([, , status]) => status === 101)) await check(accepted)
  // No token (a JWT's header starts "eyJ") appears in the logs, not even in the refusals' context.
  assert.deepEqual(server.logs.filter((line) => line.includes('eyJ') || line.includes(signature!)), [], 'a token was logged')
})

test('2. ES256 with an EC AUTH_PUBLIC_KEY alone: its tokens open; HS256 (any secret, the PEM too) and RS256 get 401', async (t) => {
  const cleanup = new Cleanup(t)
  const ec = keyPair('ec')
  const rsa = keyPair('rsa')
  const server = await startServer(cleanup, { env: { AUTH_PUBLIC_KEY: ec.publicPem } })
  const editor = { doc: DOC, role: 'editor' }
  const cases: Array<[string, string, number]> = [
    ['a valid ES256 token', await sign(editor, ec.privateKey, 'ES256'), 101],
    ['ES256 by another key', await sign(editor, keyPair('ec').privateKey, 'ES256'), 401],
    ['HS256: this server has no secret', await token(editor), 401],
    ['HS256 signed with the EC public key PEM as the secret', await sign(editor, ec.publicPem), 401],
    ['RS256 from an RSA key', await sign(editor, rsa.privateKey, 'RS256'), 401],
    ['alg: none', unsignedToken(editor), 401],
    ['ES256, another document', await sign({ doc: 'other', role: 'editor' }, ec.privateKey, 'ES256'), 403],
  ]
  for (const [title, value, status] of cases) assert.equal(await upgradeStatus(withToken(server.wsUrl, DOC, value)), status, title)
  assert.equal(await upgradeStatus(`${server.wsUrl}/${DOC}`), 401, 'no token')
})

test('3. RS256 with an RSA AUTH_PUBLIC_KEY alone: HS256 signed with that PEM (algorithm confusion) gets 401', async (t) => {
  const cleanup = new Cleanup(t)
  const rsa = keyPair('rsa')
  const server = await startServer(cleanup, { env: { AUTH_PUBLIC_KEY: rsa.publicPem } })
  const editor = { doc: DOC, role: 'editor' }
  assert.equal(await upgradeStatus(withToken(server.wsUrl, DOC, await sign(editor, rsa.privateKey, 'RS256'))), 101)
  for (const pem of [rsa.publicPem, rsa.publicPem.trim(), rsa.publicPem.replace(/\n/g, '\r\n')]) {
    assert.equal(await upgradeStatus(withToken(server.wsUrl, DOC, await sign(editor, pem))), 401, 'HS256 keyed with the public PEM')
  }
})

test('4. a token offered as a Sec-WebSocket-Protocol value is accepted and never echoed back', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { AUTH_SECRET: SECRET } })
  const valid = await token({ doc: DOC, role: 'editor' })
  const url = `${server.wsUrl}/${DOC}`

  const alone = await rawUpgrade(url, { 'Sec-WebSocket-Protocol': valid })
  assert.equal(alone.status, 101)
  assert.equal(alone.headers['sec-websocket-protocol'], undefined, 'the only offered value was the token: no subprotocol is chosen')
  const withOther = await rawUpgrade(url, { 'Sec-WebSocket-Protocol': `tandem, ${valid}` })
  assert.equal(withOther.status, 101)
  assert.equal(withOther.headers['sec-websocket-protocol'], 'tandem')
  const tokenFirst = await rawUpgrade(url, { 'Sec-WebSocket-Protocol': `${valid}, tandem` })
  assert.equal(tokenFirst.status, 101)
  assert.equal(tokenFirst.headers['sec-websocket-protocol'], 'tandem')
  for (const answer of [alone, withOther, tokenFirst]) {
    assert.ok(!JSON.stringify(answer.headers).includes(valid.split('.')[2]!), `the token is in the response headers: ${JSON.stringify(answer.headers)}`)
  }

  const bad = await rawUpgrade(url, { 'Sec-WebSocket-Protocol': `tandem, ${await sign({ doc: DOC, role: 'editor' }, SECRET, 'HS512')}` })
  assert.equal(bad.status, 401)
  assert.equal((await rawUpgrade(url, { 'Sec-WebSocket-Protocol': 'tandem' })).status, 401, 'a subprotocol that is not a token')
  const other = await rawUpgrade(url, { 'Sec-WebSocket-Protocol': await token({ doc: 'other', role: 'editor' }) })
  assert.equal(other.status, 403)

  // A client that offers the token this way is served like any other.
  const client = await RawClient.connect(cleanup, url, { protocols: ['tandem', valid] })
  assert.equal(client.ws.protocol, 'tandem')
  await client.waitFrame('sync-step1')
  await roundTrip(client, 1)
})

test('5. the doc claim: an exact name, a prefix ending in *, or *', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { AUTH_SECRET: SECRET } })
  const cases: Array<[pattern: string, name: string, status: number]> = [
    ['plans', 'plans', 101],
    ['plans', 'plans2', 403],
    ['plans', 'Plans', 403],
    ['plans', 'plan', 403],
    ['a doc/with ünïcode', 'a doc/with ünïcode', 101],
    ['team/*', 'team/roadmap', 101],
    ['team/*', 'team/', 101],
    ['team/*', 'team', 403],
    ['team/*', 'teams/roadmap', 403],
    ['team/*', 'other/team/x', 403],
    ['*', 'anything at all', 101],
    ['*', '😀', 101],
    // `*` only means "any" at the end: elsewhere it is a literal character.
    ['*/notes', 'x/notes', 403],
    ['*/notes', '*/notes', 101],
  ]
  for (const [pattern, name, status] of cases) {
    const value = await token({ doc: pattern, role: 'editor' })
    assert.equal(await upgradeStatus(withToken(server.wsUrl, name, value)), status, `doc ${JSON.stringify(pattern)} opening ${JSON.stringify(name)}`)
    assert.equal(grants(pattern, name), status === 101, `grants(${pattern}, ${name})`)
  }
})

test('6. claims: role defaults to viewer, name is kept (at most 100 characters), exp becomes the grant’s expiry', async () => {
  const auth = createAuth({ secret: SECRET, publicKeyPem: null })
  const exp = nowSeconds() + 600
  assert.deepEqual(await auth.authorize(await token({ doc: DOC, role: 'editor', name: 'Ada', exp }), DOC), {
    ok: true,
    grant: { role: 'editor', name: 'Ada', expiresAt: exp * 1000 },
  })
  assert.deepEqual(await auth.authorize(await token({ doc: DOC, exp }), DOC), { ok: true, grant: { role: 'viewer', name: null, expiresAt: exp * 1000 } })
  assert.deepEqual(await auth.authorize(await token({ doc: DOC, role: 'viewer', name: 'x'.repeat(101), exp: null }), DOC), {
    ok: true,
    grant: { role: 'viewer', name: null, expiresAt: null },
  })
  const numberName = await auth.authorize(await token({ doc: DOC, name: 42 }), DOC)
  assert.ok(numberName.ok)
  assert.equal(numberName.grant.name, null, 'a name that is not a string is ignored')
  assert.deepEqual(await auth.authorize(null, DOC), { ok: false, status: 401, reason: 'a token is required' })
  assert.deepEqual(await auth.authorize(await token({ doc: DOC, exp: nowSeconds() - 1 }), DOC), { ok: false, status: 401, reason: 'token expired' })

  // What it mints is a plain HS256 JWT with exactly these claims.
  const minted = await auth.mint({ doc: 'x*', role: 'viewer', ttlSeconds: 90, name: 'Bo' })
  assert.deepEqual(decodeProtectedHeader(minted), { alg: 'HS256', typ: 'JWT' })
  const claims = decodeJwt(minted)
  assert.equal(claims.doc, 'x*')
  assert.equal(claims.role, 'viewer')
  assert.equal(claims.name, 'Bo')
  assert.equal(claims.exp! - claims.iat!, 90)
  assert.ok(looksLikeJwt(minted))

  // Auth off: everyone is an editor, with or without a token; nothing can be minted.
  const off = createAuth({ secret: null, publicKeyPem: null })
  assert.equal(off.enabled, false)
  assert.deepEqual(await off.authorize(null, DOC), { ok: true, grant: { role: 'editor', name: null, expiresAt: null } })
  await assert.rejects(off.mint({ doc: DOC, role: 'editor', ttlSeconds: 60 }))

  assert.deepEqual(['90', '90s', '30m', '24h', '7d', ' 2h '].map(parseTtl), [90, 90, 1800, 86400, 604800, 7200])
  assert.deepEqual(['', '0', '-5', '1w', '1.5h', 'h'].map(parseTtl), [null, null, null, null, null, null])
})

test('7. a token that expires during the connection closes it with 4401 within 2 s; others stay', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { AUTH_SECRET: SECRET } })
  // Whole seconds, as JWTs count: at least 1.5 s ahead so the upgrade itself is in time.
  const exp = Math.ceil((Date.now() + 1500) / 1000)
  const brief = await RawClient.connect(cleanup, withToken(server.wsUrl, DOC, await token({ doc: DOC, role: 'editor', exp })))
  const lasting = await RawClient.connect(cleanup, withToken(server.wsUrl, DOC, await token({ doc: DOC, role: 'editor' })))
  await brief.waitFrame('sync-step1')
  await roundTrip(brief, 1)
  const closed = await brief.waitClosed({ timeoutMs: exp * 1000 - Date.now() + 5000, message: 'the expired token’s connection stayed open' })
  const late = Date.now() - exp * 1000
  t.diagnostic(`closed ${late} ms after exp`)
  assert.equal(closed.code, 4401, `close code (reason ${JSON.stringify(closed.reason)})`)
  assert.ok(late >= -20, `closed ${-late} ms before the token expired`)
  assert.ok(late < 2000, `closed ${late} ms after the token expired`)
  assert.equal(lasting.isClosed, false)
  await roundTrip(lasting, 1)
  // And the expired token cannot reconnect.
  assert.equal(await upgradeStatus(withToken(server.wsUrl, DOC, await token({ doc: DOC, role: 'editor', exp }))), 401)
})

test('8. a token valid for 30 days (the longest share link) keeps its connection open', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { AUTH_SECRET: SECRET } })
  for (const days of [30, 365]) {
    const client = await RawClient.connect(cleanup, withToken(server.wsUrl, DOC, await token({ doc: DOC, role: 'editor', exp: nowSeconds() + days * 86400 })))
    const opened = performance.now()
    // Round trips until well past any timer the connection set up on opening would have fired.
    for (let n = 1; performance.now() - opened < 50 || n <= 3; n++) await roundTrip(client, n)
    assert.equal(client.isClosed, false, `a ${days}-day token was cut off at once`)
  }
  assert.equal(server.server.stats().connections, 2)
})
