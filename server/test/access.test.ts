/**
 * Who is asking, at the upgrade (access.ts, and its use in server.ts): a browser page's Origin
 * (the server's own host, ALLOWED_ORIGINS, or 403), and per-address limits on open connections
 * and on connects per minute (429), with X-Forwarded-For trusted only under TRUST_PROXY.
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { chooseProtocol, clientAddress, httpToken, originAllowed, upgradeToken } from '../src/access.js'
import { AddressLimits } from '../src/limits.js'
import { Cleanup } from './helpers/cleanup.js'
import { RawClient, upgradeStatus } from './helpers/clients.js'
import { startServer } from './helpers/server.js'
import { seededRng } from './helpers/random.js'
import { SECRET, token } from './helpers/tokens.js'
import { waitFor } from './helpers/wait.js'
import { test } from './helpers/test.js'

function request(headers: http.IncomingHttpHeaders, url = '/ws/doc', remoteAddress = '192.0.2.7'): http.IncomingMessage {
  return { headers, url, socket: { remoteAddress } } as unknown as http.IncomingMessage
}

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJkb2MiOiJ4In0.c2ln'

test('1. access.ts: origin, address, token and subprotocol decisions from the request alone', () => {
  const allowed = ['https://app.example.com']
  const host = { host: 'docs.example.com:8443' }
  assert.equal(originAllowed(request(host), allowed), true, 'no Origin: not a browser')
  assert.equal(originAllowed(request({ ...host, origin: 'https://docs.example.com:8443' }), allowed), true)
  assert.equal(originAllowed(request({ ...host, origin: 'http://docs.example.com:8443' }), allowed), true, 'TLS ended by a proxy')
  assert.equal(originAllowed(request({ ...host, origin: 'https://app.example.com' }), allowed), true)
  for (const origin of ['https://evil.example', 'https://docs.example.com', 'https://docs.example.com:8444', 'null', 'https://app.example.com.evil.example', 'not a url']) {
    assert.equal(originAllowed(request({ ...host, origin }), allowed), false, origin)
  }

  assert.equal(clientAddress(request({ 'x-forwarded-for': '203.0.113.9' }), false), '192.0.2.7')
  // The last hop is the one our proxy appended; what comes before it the client wrote.
  assert.equal(clientAddress(request({ 'x-forwarded-for': '203.0.113.9, 10.0.0.1' }), true), '10.0.0.1')
  assert.equal(clientAddress(request({ 'x-forwarded-for': ['198.51.100.1', '203.0.113.9'] }), true), '203.0.113.9')
  assert.equal(clientAddress(request({ 'x-forwarded-for': '203.0.113.9' }), true), '203.0.113.9')
  assert.equal(clientAddress(request({ 'x-forwarded-for': ' ' }), true), '192.0.2.7')
  assert.equal(clientAddress(request({}), true), '192.0.2.7')

  assert.equal(upgradeToken(request({}, `/ws/doc?token=${JWT}`)), JWT)
  assert.equal(upgradeToken(request({ 'sec-websocket-protocol': `tandem, ${JWT}` })), JWT)
  assert.equal(upgradeToken(request({ 'sec-websocket-protocol': 'tandem, other' })), null)
  assert.equal(upgradeToken(request({})), null)
  assert.equal(httpToken(request({ authorization: `Bearer ${JWT}` })), JWT)
  assert.equal(httpToken(request({ authorization: `Basic abc` }, `/api/docs/x/text?token=${JWT}`)), JWT)
  assert.equal(httpToken(request({})), null)
  assert.equal(chooseProtocol(new Set([JWT, 'tandem'])), 'tandem')
  assert.equal(chooseProtocol(new Set([JWT])), false)
})

test('2. Origin at the upgrade: another site 403; the server’s own host, ALLOWED_ORIGINS and no Origin pass', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:5173' } })
  const url = `${server.wsUrl}/doc`
  const cases: Array<[string | null, number]> = [
    [null, 101],
    [`http://127.0.0.1:${server.port}`, 101],
    [`https://127.0.0.1:${server.port}`, 101],
    ['https://app.example.com', 101],
    ['http://localhost:5173', 101],
    ['https://evil.example', 403],
    [`http://127.0.0.1:${server.port + 1}`, 403],
    [`http://localhost:${server.port}`, 403],
    ['http://localhost:5174', 403],
    ['https://app.example.com.evil.example', 403],
    ['null', 403],
  ]
  for (const [origin, status] of cases) {
    assert.equal(await upgradeStatus(url, { headers: origin === null ? {} : { Origin: origin } }), status, `Origin ${origin}`)
  }
  // The origin check comes before the token: a valid token does not let another site in.
  const guarded = await startServer(cleanup, { env: { AUTH_SECRET: SECRET } })
  const withToken = `${guarded.wsUrl}/doc?token=${await token({ doc: 'doc', role: 'editor' })}`
  assert.equal(await upgradeStatus(withToken, { headers: { Origin: 'https://evil.example' } }), 403)
  assert.equal(await upgradeStatus(withToken, { headers: { Origin: `http://127.0.0.1:${guarded.port}` } }), 101)
})

test('3. MAX_CONNECTIONS_PER_IP: the next upgrade gets 429 while they are open, and passes once one closes', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { MAX_CONNECTIONS_PER_IP: '2' } })
  const url = `${server.wsUrl}/doc`
  const a = await RawClient.connect(cleanup, url)
  await RawClient.connect(cleanup, url)
  assert.equal(await upgradeStatus(url), 429)
  assert.equal(await upgradeStatus(`${server.wsUrl}/another-doc`), 429, 'the limit is per address, not per document')
  a.ws.close()
  await a.waitClosed()
  await waitFor(() => server.server.stats().connections === 1, { message: 'the server still counts the closed socket' })
  assert.equal(await upgradeStatus(url), 101)
  // Refused upgrades never took a slot: one closed, one open, one free.
  await waitFor(() => server.server.stats().connections === 1, { message: 'the probe socket is still counted' })
  await RawClient.connect(cleanup, url)
  assert.equal(await upgradeStatus(url), 429)
})

test('4. MAX_CONNECTS_PER_MINUTE: connects beyond it get 429 even with none open; refused ones (bad tokens) count', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { MAX_CONNECTS_PER_MINUTE: '3', AUTH_SECRET: SECRET } })
  const good = `${server.wsUrl}/doc?token=${await token({ doc: 'doc', role: 'editor' })}`
  assert.equal(await upgradeStatus(`${server.wsUrl}/doc?token=guess-1`), 401)
  assert.equal(await upgradeStatus(`${server.wsUrl}/doc?token=guess-2`), 401)
  assert.equal(await upgradeStatus(good), 101)
  await waitFor(() => server.server.stats().connections === 0, { message: 'the socket is still counted' })
  assert.equal(await upgradeStatus(good), 429)
  assert.equal(await upgradeStatus(`${server.wsUrl}/doc`), 429, 'the limit comes before the token check')
})

test('5. AddressLimits: the minute window slides; sweep forgets old addresses', () => {
  const limits = new AddressLimits({ maxConnectionsPerIp: 2, maxConnectsPerMinutePerIp: 3 })
  const t0 = 1_000_000
  assert.equal(limits.admit('a', t0), null)
  limits.release('a')
  assert.equal(limits.admit('a', t0 + 10_000), null)
  limits.release('a')
  assert.equal(limits.admit('a', t0 + 20_000), null)
  limits.release('a')
  assert.match(limits.admit('a', t0 + 59_999) ?? '', /a minute/)
  assert.equal(limits.admit('b', t0 + 59_999), null, 'another address has its own budget')
  assert.equal(limits.admit('a', t0 + 60_000), null, 'the first connect left the window')
  assert.match(limits.admit('a', t0 + 60_001) ?? '', /a minute/, 'the window holds three again')
  assert.equal(limits.admit('a', t0 + 70_000), null, 'the second connect left the window')
  assert.match(limits.admit('a', t0 + 80_001) ?? '', /connections from this address/, 'two are open')
  limits.release('a')
  limits.release('a')
  limits.release('a') // one release too many must not give a negative count
  limits.sweep(t0 + 200_000)
  for (let i = 0; i < 2; i++) assert.equal(limits.admit('a', t0 + 200_000), null)
  assert.match(limits.admit('a', t0 + 200_000) ?? '', /connections/)
})

test('5b. AddressLimits: thousands of connects a minute are counted exactly as a sliding window', (t) => {
  const rng = seededRng(t)
  const maxPerMinute = 500
  const limits = new AddressLimits({ maxConnectionsPerIp: Infinity, maxConnectsPerMinutePerIp: maxPerMinute })
  const admitted: number[] = []
  let now = 1_000_000
  let refused = 0
  for (let i = 0; i < 20_000; i++) {
    now += rng.int(40)
    const expected = admitted.filter((at) => now - at < 60_000).length < maxPerMinute
    const answer = limits.admit('a', now)
    assert.equal(answer === null, expected, `connect ${i} at ${now}: ${answer}`)
    if (answer === null) admitted.push(now)
    else refused++
    if (i % 5000 === 0) limits.sweep(now)
  }
  assert.ok(refused > 0 && admitted.length > 2 * maxPerMinute, `the window both refused (${refused}) and slid (${admitted.length} admitted)`)
})

test('6. TRUST_PROXY=true: each X-Forwarded-For address has its own budget', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { TRUST_PROXY: 'true', MAX_CONNECTIONS_PER_IP: '1' } })
  const url = `${server.wsUrl}/doc`
  const from = (address: string) => ({ headers: { 'X-Forwarded-For': address } })
  await RawClient.connect(cleanup, url, from('203.0.113.1'))
  assert.equal(await upgradeStatus(url, from('203.0.113.1')), 429)
  // Entries before the last are the client's own words: they cannot buy a fresh budget.
  assert.equal(await upgradeStatus(url, from('198.51.100.1, 203.0.113.1')), 429, 'the last hop is the client')
  await RawClient.connect(cleanup, url, from('203.0.113.2'))
  assert.equal(await upgradeStatus(url, from('203.0.113.2')), 429)
  await RawClient.connect(cleanup, url, from('203.0.113.1, 203.0.113.3'))
  // Without the header, the proxy's own address is the client.
  await RawClient.connect(cleanup, url)
  assert.equal(await upgradeStatus(url), 429)
})

test('7. TRUST_PROXY=false: X-Forwarded-For is ignored, so a client cannot pick a fresh address', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { MAX_CONNECTIONS_PER_IP: '1' } })
  const url = `${server.wsUrl}/doc`
  await RawClient.connect(cleanup, url, { headers: { 'X-Forwarded-For': '203.0.113.1' } })
  assert.equal(await upgradeStatus(url, { headers: { 'X-Forwarded-For': '203.0.113.2' } }), 429)
  assert.equal(await upgradeStatus(url), 429)
})
