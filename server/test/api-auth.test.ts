/**
 * The HTTP API under the same tokens as the sockets: GET /api/docs/<name>/text (token by query or
 * Bearer) and POST /api/docs/<name>/share, which mints a link for one document to a holder of an
 * editor token (docs/protocol.md, "HTTP").
 */
import assert from 'node:assert/strict'
import { jwtVerify } from 'jose'
import { encodeUpdate } from '../src/protocol.js'
import { Cleanup } from './helpers/cleanup.js'
import { RawClient, stockClient, upgradeStatus } from './helpers/clients.js'
import { savedQuery } from './helpers/hostile.js'
import { Editor } from './helpers/peers.js'
import { startServer } from './helpers/server.js'
import { keyPair, nowSeconds, SECRET, sign, token, unsignedToken } from './helpers/tokens.js'
import { waitFor } from './helpers/wait.js'
import { test } from './helpers/test.js'

const DOC = 'memo/2026'
const path = (name: string, route: 'text' | 'share') => `/api/docs/${encodeURIComponent(name)}/${route}`

interface Answer {
  readonly status: number
  readonly body: string
}

async function get(url: string, bearer?: string): Promise<Answer> {
  const res = await fetch(url, bearer === undefined ? {} : { headers: { authorization: `Bearer ${bearer}` } })
  return { status: res.status, body: await res.text() }
}

async function share(httpUrl: string, name: string, options: { bearer?: string; body?: string; query?: string } = {}) {
  const res = await fetch(`${httpUrl}${path(name, 'share')}${options.query ? `?token=${options.query}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}) },
    ...(options.body === undefined ? {} : { body: options.body }),
  })
  const text = await res.text()
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown> }
}

test('1. GET text: 401 without a valid token, 403 for another document, 200 by query or Bearer (viewers may read)', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { AUTH_SECRET: SECRET } })
  const editorToken = await token({ doc: DOC, role: 'editor' })
  const writer = await stockClient(cleanup, server.wsUrl, encodeURIComponent(DOC), { params: { token: editorToken } })
  writer.text.insert(0, 'the memo')
  const url = `${server.httpUrl}${path(DOC, 'text')}`
  await waitFor(async () => (await get(`${url}?token=${editorToken}`)).body === 'the memo', { message: 'the edit never reached the API' })

  const viewerToken = await token({ doc: 'memo/*', role: 'viewer' })
  const cases: Array<[string, () => Promise<Answer>, number]> = [
    ['no token', () => get(url), 401],
    ['a garbage token', () => get(`${url}?token=nope`), 401],
    ['a garbage Bearer', () => get(url, 'nope'), 401],
    ['an expired token', async () => get(url, await token({ doc: DOC, role: 'editor', exp: nowSeconds() - 5 })), 401],
    ['alg: none', () => get(url, unsignedToken({ doc: DOC, role: 'editor' })), 401],
    ['HS512', async () => get(url, await sign({ doc: DOC, role: 'editor' }, SECRET, 'HS512')), 401],
    ['another document’s token', async () => get(url, await token({ doc: 'memo/2025', role: 'editor' })), 403],
    ['editor by query', () => get(`${url}?token=${editorToken}`), 200],
    ['editor as Bearer', () => get(url, editorToken), 200],
    ['viewer (prefix) as Bearer', () => get(url, viewerToken), 200],
    ['viewer by query', () => get(`${url}?token=${viewerToken}`), 200],
  ]
  for (const [title, request, status] of cases) {
    const answer = await request()
    assert.equal(answer.status, status, `${title}: ${answer.body}`)
    if (status === 200) assert.equal(answer.body, 'the memo', title)
    else assert.doesNotMatch(answer.body, /the memo/, title)
  }
  // A lower-case scheme is still a Bearer token; a valid token for an unwritten document is a 404.
  const lower = await fetch(url, { headers: { authorization: `bearer ${editorToken}` } })
  assert.equal(lower.status, 200)
  await lower.text()
  assert.equal((await get(`${server.httpUrl}${path('memo/never', 'text')}`, viewerToken)).status, 404)
})

test('2. POST share: an editor gets a viewer link that works and only reads; viewers and strangers are refused', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { AUTH_SECRET: SECRET } })
  const editorToken = await token({ doc: DOC, role: 'editor' })
  const editor = await stockClient(cleanup, server.wsUrl, encodeURIComponent(DOC), { params: { token: editorToken } })
  editor.text.insert(0, 'shared text')

  const made = await share(server.httpUrl, DOC, { bearer: editorToken })
  assert.equal(made.status, 200, JSON.stringify(made.json))
  const link = made.json as { token: string; url: string; expiresAt: number }
  assert.equal(link.url, `/d/${encodeURIComponent(DOC)}?token=${link.token}`)
  const { payload, protectedHeader } = await jwtVerify(link.token, new TextEncoder().encode(SECRET), { algorithms: ['HS256'] })
  assert.equal(protectedHeader.alg, 'HS256')
  assert.equal(payload.doc, DOC, 'the link is for this one document, not the editor’s pattern')
  assert.equal(payload.role, 'viewer')
  assert.equal(payload.exp! - payload.iat!, 24 * 3600, 'a day by default')
  assert.ok(Math.abs(link.expiresAt - payload.exp! * 1000) < 2000, `expiresAt ${link.expiresAt} vs exp ${payload.exp}`)

  // The link opens the document, read only.
  const viaLink = await RawClient.connect(cleanup, `${server.wsUrl}/${encodeURIComponent(DOC)}?token=${link.token}`)
  await viaLink.waitFrame('sync-step1')
  const intruder = new Editor(4040)
  cleanup.add(() => intruder.destroy())
  viaLink.send(encodeUpdate(intruder.insert(0, 'VIA LINK ')))
  viaLink.send(savedQuery(1))
  await viaLink.waitFrame('saved', (f) => f.id === 1)
  const text = await get(`${server.httpUrl}${path(DOC, 'text')}`, link.token)
  assert.deepEqual(text, { status: 200, body: 'shared text' })
  assert.equal(await upgradeStatus(`${server.wsUrl}/${encodeURIComponent('memo/2025')}?token=${link.token}`), 403)

  // An editor may ask for an editor link, and for how long.
  const editorLink = await share(server.httpUrl, DOC, { bearer: editorToken, body: JSON.stringify({ role: 'editor', ttlSeconds: 600 }) })
  assert.equal(editorLink.status, 200)
  const editorClaims = (await jwtVerify(editorLink.json.token as string, new TextEncoder().encode(SECRET))).payload
  assert.equal(editorClaims.role, 'editor')
  assert.equal(editorClaims.exp! - editorClaims.iat!, 600)

  const refusals: Array<[string, Parameters<typeof share>[2], number]> = [
    ['no token', {}, 401],
    ['a garbage token', { bearer: 'nope' }, 401],
    ['alg: none claiming editor', { bearer: unsignedToken({ doc: DOC, role: 'editor' }) }, 401],
    ['a viewer token', { bearer: await token({ doc: DOC, role: 'viewer' }) }, 403],
    ['the viewer link itself', { bearer: link.token }, 403],
    ['a token without a role (a viewer)', { bearer: await token({ doc: DOC }) }, 403],
    ['an editor of another document', { bearer: await token({ doc: 'memo/2025', role: 'editor' }) }, 403],
    ['a role that does not exist', { bearer: editorToken, body: '{"role":"owner"}' }, 400],
    ['ttl 0', { bearer: editorToken, body: '{"ttlSeconds":0}' }, 400],
    ['ttl past 30 days', { bearer: editorToken, body: JSON.stringify({ ttlSeconds: 30 * 86400 + 1 }) }, 400],
    ['ttl not whole', { bearer: editorToken, body: '{"ttlSeconds":1.5}' }, 400],
    ['not JSON', { bearer: editorToken, body: 'role=editor' }, 400],
    ['a body over 4 KiB', { bearer: editorToken, body: JSON.stringify({ role: 'viewer', pad: 'x'.repeat(5000) }) }, 400],
  ]
  for (const [title, options, status] of refusals) {
    const answer = await share(server.httpUrl, DOC, options)
    assert.equal(answer.status, status, `${title}: ${JSON.stringify(answer.json)}`)
    assert.equal(answer.json.token, undefined, title)
  }
  assert.equal(viaLink.isClosed, false)
})

test('3. a 30-day share link (the longest allowed) opens a socket that stays open', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { AUTH_SECRET: SECRET } })
  const made = await share(server.httpUrl, DOC, { bearer: await token({ doc: DOC, role: 'editor' }), body: JSON.stringify({ ttlSeconds: 30 * 86400 }) })
  assert.equal(made.status, 200)
  const client = await RawClient.connect(cleanup, `${server.wsUrl}/${encodeURIComponent(DOC)}?token=${made.json.token as string}`)
  const opened = performance.now()
  for (let n = 1; performance.now() - opened < 50 || n <= 3; n++) {
    client.send(savedQuery(n))
    await waitFor(() => client.isClosed || client.frames.some((f) => f.kind === 'saved' && f.id === n), { message: `no saved(${n})` })
    if (client.isClosed) assert.fail(`the link's socket was closed: ${JSON.stringify(await client.closed)}`)
  }
})

test('4. auth off: share answers 404 {"error":"auth is off"}; with only a public key it cannot mint (501)', async (t) => {
  const cleanup = new Cleanup(t)
  const open = await startServer(cleanup)
  assert.deepEqual(await share(open.httpUrl, DOC, {}), { status: 404, json: { error: 'auth is off' } })
  assert.deepEqual(await share(open.httpUrl, DOC, { bearer: await token({ doc: DOC, role: 'editor' }) }), { status: 404, json: { error: 'auth is off' } })
  // Auth off, the text API needs no token.
  assert.equal((await get(`${open.httpUrl}${path(DOC, 'text')}`)).status, 404, 'never written, but not refused')

  const rsa = keyPair('rsa')
  const verifyOnly = await startServer(cleanup, { env: { AUTH_PUBLIC_KEY: rsa.publicPem } })
  const editorToken = await sign({ doc: DOC, role: 'editor' }, rsa.privateKey, 'RS256')
  const answer = await share(verifyOnly.httpUrl, DOC, { bearer: editorToken })
  assert.equal(answer.status, 501, JSON.stringify(answer.json))
  assert.equal((await get(`${verifyOnly.httpUrl}${path(DOC, 'text')}`, editorToken)).status, 404)
  assert.equal((await get(`${verifyOnly.httpUrl}${path(DOC, 'text')}`)).status, 401)
})
