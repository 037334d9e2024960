/**
 * The server end to end, in process, on real sockets: stock y-websocket clients, raw sockets for
 * byte-level checks, the HTTP API, upgrade refusals, presence, `saved`, heartbeat.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { encodeAwareness, encodeSyncStep1, encodeUpdate, keepAlive, MessageType } from '../src/protocol.js'
import { Cleanup } from './helpers/cleanup.js'
import { converged, RawClient, stockClient, upgradeStatus, type StockClient } from './helpers/clients.js'
import { Editor } from './helpers/peers.js'
import { seededRng } from './helpers/random.js'
import { startServer } from './helpers/server.js'
import { needs } from './helpers/services.js'
import { turns, waitFor } from './helpers/wait.js'
import { test } from './helpers/test.js'

async function getText(httpUrl: string, name: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${httpUrl}/api/docs/${encodeURIComponent(name)}/text`)
  return { status: res.status, body: await res.text() }
}

test('1. stock clients: a round trip both ways', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const a = await stockClient(cleanup, server.wsUrl, 'round-trip')
  const b = await stockClient(cleanup, server.wsUrl, 'round-trip')
  a.text.insert(0, 'hello')
  await waitFor(() => b.text.toString() === 'hello', { message: () => `b has ${JSON.stringify(b.text.toString())}` })
  b.text.insert(5, ' world')
  await waitFor(() => a.text.toString() === 'hello world', { message: () => `a has ${JSON.stringify(a.text.toString())}` })
  assert.deepEqual(await getText(server.httpUrl, 'round-trip'), { status: 200, body: 'hello world' })
  assert.deepEqual(a.closeCodes, [])
  assert.deepEqual(b.closeCodes, [])
})

test('2. seeded concurrent edits from 4 stock clients converge; a late joiner and the API agree', async (t) => {
  const cleanup = new Cleanup(t)
  const rng = seededRng(t)
  const server = await startServer(cleanup)
  const name = 'converge'
  const clients: StockClient[] = []
  for (let i = 0; i < 4; i++) clients.push(await stockClient(cleanup, server.wsUrl, name))
  for (let op = 0; op < 300; op++) {
    const { text } = rng.pick(clients)
    if (text.length > 0 && rng.float() < 0.35) {
      const at = rng.int(text.length)
      text.delete(at, Math.min(1 + rng.int(4), text.length - at))
    } else {
      text.insert(rng.int(text.length + 1), rng.word())
    }
    // Let frames cross in flight: edits are made on stale local state, as real typists do.
    if (rng.float() < 0.2) await turns(1 + rng.int(3))
  }
  const texts = await converged(clients)
  assert.ok(texts.every((x) => x === texts[0]), `texts differ:\n${texts.join('\n---\n')}`)
  assert.ok(texts[0]!.length > 0)

  const late = await stockClient(cleanup, server.wsUrl, name)
  assert.equal(late.text.toString(), texts[0], 'the late joiner synced a different text')
  assert.deepEqual(await getText(server.httpUrl, name), { status: 200, body: texts[0] })
})

test('3. the text API: 404 for a document never written, even one that was opened', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  assert.equal((await getText(server.httpUrl, 'never-seen')).status, 404)
  const viewer = await stockClient(cleanup, server.wsUrl, 'only-opened')
  assert.equal(viewer.provider.synced, true)
  assert.equal((await getText(server.httpUrl, 'only-opened')).status, 404)
  const bad = await fetch(`${server.httpUrl}/api/docs/%E0%A4%A/text`)
  assert.equal(bad.status, 400)
  await bad.text()
  const post = await fetch(`${server.httpUrl}/api/docs/x/text`, { method: 'POST' })
  assert.equal(post.status, 405)
  await post.text()
})

test('4. rooms are isolated: edits in one never reach another', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const a1 = await stockClient(cleanup, server.wsUrl, 'room-a')
  const a2 = await stockClient(cleanup, server.wsUrl, 'room-a')
  const b1 = await stockClient(cleanup, server.wsUrl, 'room-b')
  const b2 = await stockClient(cleanup, server.wsUrl, 'room-b')
  a1.text.insert(0, 'AAA')
  await waitFor(() => a2.text.toString() === 'AAA', { message: 'a2 never saw a1' })
  // A round trip in B after A's edit was relayed: had it leaked, it would have arrived by now.
  b1.text.insert(0, 'bbb')
  await waitFor(() => b2.text.toString() === 'bbb', { message: 'b2 never saw b1' })
  await converged([b1, b2])
  assert.equal(b1.text.toString(), 'bbb')
  assert.equal(b2.text.toString(), 'bbb')
  assert.equal(a1.text.toString(), 'AAA')
  assert.equal(Y.getState(b1.doc.store, a1.doc.clientID), 0, 'room-b holds a struct from room-a')
  assert.deepEqual(await getText(server.httpUrl, 'room-a'), { status: 200, body: 'AAA' })
  assert.deepEqual(await getText(server.httpUrl, 'room-b'), { status: 200, body: 'bbb' })
  // Names differing only in case or encoding are different rooms too.
  const upper = await stockClient(cleanup, server.wsUrl, 'ROOM-A')
  assert.equal(upper.text.toString(), '')
})

test('5. upgrades: 400 for bad names, 404 for other paths, 101 for good ones', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const base = `ws://127.0.0.1:${server.port}`
  const cases: Array<[string, number]> = [
    ['/ws/', 400],
    [`/ws/${'a'.repeat(257)}`, 400],
    ['/ws/%E0%A4%A', 400],
    ['/other', 404],
    ['/ws', 404],
    ['/', 404],
    ['/api/docs/x/text', 404],
    [`/ws/${'a'.repeat(256)}`, 101],
    [`/ws/${encodeURIComponent('😀'.repeat(256))}`, 101],
    [`/ws/${encodeURIComponent('a doc/with ünïcode')}?token=ignored`, 101],
  ]
  for (const [path, status] of cases) assert.equal(await upgradeStatus(base + path), status, `upgrade of ${path.slice(0, 40)}`)
  // The server is unharmed by the refusals.
  const client = await stockClient(cleanup, server.wsUrl, 'after-refusals')
  client.text.insert(0, 'ok')
  await waitFor(async () => (await getText(server.httpUrl, 'after-refusals')).body === 'ok', { message: 'text never stored' })
})

test('6. awareness: B sees A’s state, and its removal promptly when A’s socket is cut', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const b = await stockClient(cleanup, server.wsUrl, 'presence')
  const a = await RawClient.connect(cleanup, `${server.wsUrl}/presence`)
  await a.waitFrame('sync-step1')

  const aDoc = new Y.Doc()
  aDoc.clientID = 4242
  const aAwareness = new awarenessProtocol.Awareness(aDoc)
  cleanup.add(() => aAwareness.destroy())
  aAwareness.setLocalState({ user: { name: 'Ada', color: '#f00' } })
  a.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(aAwareness, [4242])))
  await waitFor(() => b.provider.awareness.getStates().get(4242), { message: 'b never saw a’s presence' })
  assert.deepEqual(b.provider.awareness.getStates().get(4242), { user: { name: 'Ada', color: '#f00' } })

  // And A sees B's own presence, which the stock client announced when it connected.
  b.provider.awareness.setLocalStateField('user', { name: 'Bob' })
  await a.waitFrame('awareness', (f) => {
    const mirror = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(mirror, f.update, 'test')
    const state = mirror.getStates().get(b.doc.clientID)
    mirror.destroy()
    return (state as { user?: { name?: string } } | undefined)?.user?.name === 'Bob'
  })

  const cut = performance.now()
  a.ws.terminate() // no close frame, no goodbye awareness message
  // The server removes it when the socket ends: far sooner than the 30 s awareness timeout
  // clients would otherwise rely on (the deadline here only allows for a loaded machine).
  await waitFor(() => !b.provider.awareness.getStates().has(4242), {
    timeoutMs: 10_000,
    message: 'a’s presence outlived its socket',
  })
  t.diagnostic(`presence removed ${Math.round(performance.now() - cut)} ms after the socket was cut`)
})

test('6b. renewals (the same state again) reach a stock client after the hold, together; a change comes with its turn', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const b = await stockClient(cleanup, server.wsUrl, 'renewals')
  const heard: Array<{ updated: number[]; at: number }> = []
  b.provider.awareness.on('update', ({ updated }: { updated: number[] }, origin: unknown) => {
    if (origin !== 'local') heard.push({ updated, at: performance.now() })
  })
  const member = async (id: number, name: string) => {
    const socket = await RawClient.connect(cleanup, `${server.wsUrl}/renewals`)
    await socket.waitFrame('sync-step1')
    const doc = new Y.Doc()
    doc.clientID = id
    const awareness = new awarenessProtocol.Awareness(doc)
    cleanup.add(() => awareness.destroy())
    const say = (state: Record<string, unknown>) => {
      awareness.setLocalState(state)
      socket.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(awareness, [id])))
    }
    say({ user: { name } })
    return say
  }
  const ada = await member(4242, 'Ada')
  const cy = await member(4343, 'Cy')
  const clockOf = (id: number) => b.provider.awareness.meta.get(id)?.clock ?? 0
  await waitFor(() => clockOf(4242) === 1 && clockOf(4343) === 1, { message: 'b never saw both states' })

  // Both renew, as a stock client does every 15 s: the same state, the next clock.
  const renewed = performance.now()
  ada({ user: { name: 'Ada' } })
  cy({ user: { name: 'Cy' } })
  await waitFor(() => clockOf(4242) === 2 && clockOf(4343) === 2, { message: 'b never heard the renewals' })
  const arrival = heard.find((h) => h.updated.includes(4242) && h.at >= renewed)!
  assert.ok(arrival.updated.includes(4343), `the two renewals came apart (${JSON.stringify(heard.filter((h) => h.at >= renewed))})`)
  assert.ok(arrival.at - renewed >= 1500, `the renewals came ${Math.round(arrival.at - renewed)} ms after they were sent, before the hold`)

  // A change goes with its turn, well before a hold would have ended.
  const changed = performance.now()
  ada({ user: { name: 'Ada' }, cursor: 1 })
  await waitFor(() => clockOf(4242) === 3, { message: 'b never heard the change' })
  assert.deepEqual(b.provider.awareness.getStates().get(4242), { user: { name: 'Ada' }, cursor: 1 })
  t.diagnostic(`renewals after ${Math.round(arrival.at - renewed)} ms, the change after ${Math.round(performance.now() - changed)} ms`)
})

test('7. saved: a client that asks learns what it sent is stored; others never get type 100', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const saver = await RawClient.connect(cleanup, `${server.wsUrl}/saved`)
  const plain = await RawClient.connect(cleanup, `${server.wsUrl}/saved`)
  await saver.waitFrame('sync-step1')

  const editor = new Editor(777)
  cleanup.add(() => editor.destroy())
  saver.send(encodeUpdate(editor.insert(0, 'stored?')))
  saver.send(new Uint8Array([MessageType.saved, 1]))
  await saver.waitFrame('saved', (f) => f.id === 1, { message: () => `no saved(1); got ${saver.frames.map((f) => f.kind).join(', ')}` })
  assert.equal((await getText(server.httpUrl, 'saved')).body, 'stored?')
  // A deletion moves no state vector; the answer still means it is stored.
  saver.send(encodeUpdate(editor.delete(6, 1)))
  saver.send(new Uint8Array([MessageType.saved, 2]))
  await saver.waitFrame('saved', (f) => f.id === 2, { message: 'no saved(2)' })
  assert.equal((await getText(server.httpUrl, 'saved')).body, 'stored')

  // The plain client also writes, then asks twice for sync step 2: the second answer comes
  // after anything the server sent following its first commit, so a `saved` would be here by now.
  const other = new Editor(778)
  cleanup.add(() => other.destroy())
  plain.send(encodeUpdate(other.insert(0, '!')))
  plain.send(encodeSyncStep1(Y.encodeStateVector(other.doc)))
  await plain.waitFrame('sync-step2')
  plain.send(encodeSyncStep1(Y.encodeStateVector(other.doc)))
  await waitFor(() => plain.frames.filter((f) => f.kind === 'sync-step2').length === 2, { message: 'second step 2' })
  assert.deepEqual(
    plain.frames.filter((f) => f.kind === 'saved'),
    [],
    'a client that did not opt in received a saved message',
  )
  assert.ok(plain.frames.some((f) => f.kind === 'update'), 'the plain client did get the saver’s update')
})

test('8. heartbeat (200 ms): an idle connection gets keepAlive; one that stops answering pings is dropped', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { HEARTBEAT_MS: '200' } })
  const idle = await RawClient.connect(cleanup, `${server.wsUrl}/beat`)
  const mute = await RawClient.connect(cleanup, `${server.wsUrl}/beat`, { autoPong: false })

  await waitFor(() => idle.raw.some((f) => Buffer.from(f).equals(Buffer.from(keepAlive))), {
    timeoutMs: 5000,
    message: () => `no keepAlive; got ${idle.frames.map((f) => f.kind).join(', ')}`,
  })
  const closed = await mute.waitClosed({ timeoutMs: 5000, message: 'a client that never pongs was not dropped' })
  assert.equal(closed.code, 1006, 'terminated without a close handshake')
  assert.ok(mute.pings >= 1)
  await waitFor(() => server.server.stats().connections === 1, { message: 'the dropped socket is still counted' })
})

// A slower heartbeat here: with 200 ms, a loaded machine that stalls this process for longer
// than one interval could make a live client miss its pong; that is not what this checks.
test('9. heartbeat (1 s): clients that answer pings stay connected across several beats', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { HEARTBEAT_MS: '1000' } })
  const raw = await RawClient.connect(cleanup, `${server.wsUrl}/beat`)
  const stock = await stockClient(cleanup, server.wsUrl, 'beat')
  await waitFor(() => raw.pings >= 3, { message: 'the server stopped pinging' })
  assert.equal(raw.isClosed, false, 'a client that answers pings was dropped')
  assert.deepEqual(stock.closeCodes, [], 'the stock client lost its connection')
  stock.text.insert(0, 'still here')
  await waitFor(() => raw.frames.some((f) => f.kind === 'update'), { message: 'no update relayed after the heartbeats' })
  assert.equal(server.server.stats().connections, 2)
})

test('9b. heartbeat: the connections are pinged a few at a time through the interval, not all at once', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { HEARTBEAT_MS: '1000' } })
  const clients: RawClient[] = []
  for (let i = 0; i < 64; i++) clients.push(await RawClient.connect(cleanup, `${server.wsUrl}/beat${i % 4}`))
  await waitFor(() => clients.every((c) => c.pings >= 2), { timeoutMs: 10_000, message: 'not every client was pinged twice' })
  // All at once, every round would put all 64 pings within a few ms of each other.
  const times = clients.flatMap((c) => c.pingTimes).sort((a, b) => a - b)
  let most = 0
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! > 50) j++
    most = Math.max(most, i - j + 1)
  }
  assert.ok(most <= 32, `${most} of ${times.length} pings arrived within 50 ms`)
  assert.ok(clients.every((c) => !c.isClosed), 'a client that answers pings was dropped')
})

test('9c. the server listens with LISTEN_BACKLOG, not Node\'s 511, so a reconnect storm is queued rather than retried', async (t) => {
  if (!(await needs(t, ['ss']))) return
  const cleanup = new Cleanup(t)
  const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'))
  // A listening socket's Send-Q in `ss` is its backlog (the kernel caps it at somaxconn).
  const backlog = (port: number) => Number(execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim().split(/\s+/)[2])
  const chosen = await startServer(cleanup, { env: { LISTEN_BACKLOG: '1000' } })
  assert.equal(backlog(chosen.port), Math.min(1000, somaxconn))
  const byDefault = await startServer(cleanup)
  assert.equal(backlog(byDefault.port), Math.min(4096, somaxconn))
})

test('10. /healthz reports the store, Redis, rooms and connections; /metrics counts', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  await stockClient(cleanup, server.wsUrl, 'h1')
  await stockClient(cleanup, server.wsUrl, 'h2')
  const res = await fetch(`${server.httpUrl}/healthz`)
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { ok: true, instance: 'tandem', store: 'ok', redis: 'off', rooms: 2, connections: 2 })
  const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text()
  assert.match(metrics, /^tandem_rooms\{instance="tandem"\} 2$/m)
  assert.match(metrics, /^tandem_connections\{instance="tandem"\} 2$/m)
  assert.match(metrics, /^tandem_store_up\{instance="tandem"\} 1$/m)
  const messagesIn = Number(/^tandem_messages_in_total\{instance="tandem"\} (\d+)$/m.exec(metrics)?.[1])
  assert.ok(messagesIn >= 2, `each client's sync step 1 counts: ${messagesIn}`)
  assert.doesNotMatch(metrics, /tandem_redis_up/, 'no Redis metrics without Redis')
})
