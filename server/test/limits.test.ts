/**
 * What one connection may cost the server (docs/security.md, "Limits"), each on a live server
 * with honest clients beside the offender: document size (4413), presence states and size
 * (4413, without closing the stock clients that echo everyone's presence back), updates whose
 * dependencies never come (4422), updates that declare more than their bytes hold (4422, without
 * allocating), handshakes that never start (4408) and readers that stop reading (1013). The
 * offender is closed; the room, its clients and its store carry on.
 */
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { encodeSyncStep1, encodeUpdate } from '../src/protocol.js'
import { Cleanup } from './helpers/cleanup.js'
import { RawClient, stockClient, type StockClient } from './helpers/clients.js'
import { awarenessFrame, collectGarbage, hugeStructCount, infiniteNumberFrames, memoryInUse, savedQuery } from './helpers/hostile.js'
import { Editor, textOf } from './helpers/peers.js'
import { TEXT_NAME } from '../src/room.js'
import { spawnServer, startServer, type TestServer } from './helpers/server.js'
import { health } from './helpers/tokens.js'
import { waitFor, within } from './helpers/wait.js'
import { test } from './helpers/test.js'

const ROOM = 'limits'

/** Two stock clients that have exchanged an edit. */
async function honestPair(cleanup: Cleanup, server: TestServer, text = 'honest'): Promise<[StockClient, StockClient]> {
  const a = await stockClient(cleanup, server.wsUrl, ROOM)
  const b = await stockClient(cleanup, server.wsUrl, ROOM)
  a.text.insert(0, text)
  await waitFor(() => b.text.toString() === text, { message: 'b never saw a' })
  return [a, b]
}

/** The honest clients still edit both ways on their first connections. */
async function stillEditing(a: StockClient, b: StockClient, mark: string): Promise<void> {
  a.text.insert(a.text.length, ` ${mark}-a`)
  await waitFor(() => b.text.toString().endsWith(` ${mark}-a`), { message: () => `b has ${JSON.stringify(b.text.toString())}` })
  b.text.insert(b.text.length, ` ${mark}-b`)
  await waitFor(() => a.text.toString().endsWith(` ${mark}-b`), { message: () => `a has ${JSON.stringify(a.text.toString())}` })
  assert.deepEqual(a.closeCodes, [], 'a lost its connection')
  assert.deepEqual(b.closeCodes, [], 'b lost its connection')
}

async function storedText(server: TestServer): Promise<string> {
  const stored = await server.store.load(ROOM)
  return stored ? textOf(stored.updates) : ''
}

/** A MAX_BUFFERED_BYTES far below a flood, and rate limits that let the flood through. */
// The paused reader cannot answer pings either: the longest heartbeat keeps it from being dropped
// as dead (after one to two intervals) while a loaded machine runs the flood.
const FLOOD_ENV = { MAX_BUFFERED_BYTES: String(256 * 1024), BYTES_PER_SECOND: String(2 ** 30), MESSAGES_PER_SECOND: '100000', HEARTBEAT_MS: '25000' }

/** A client that synced and then stopped reading its socket: the kernel's buffers fill, then the server's. */
async function pausedReader(cleanup: Cleanup, server: TestServer): Promise<RawClient> {
  const slow = await RawClient.connect(cleanup, `${server.wsUrl}/${ROOM}`)
  slow.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
  await slow.waitFrame('sync-step2')
  slow.ws.pause()
  return slow
}

async function offender(cleanup: Cleanup, server: TestServer): Promise<RawClient> {
  const client = await RawClient.connect(cleanup, `${server.wsUrl}/${ROOM}`)
  await client.waitFrame('sync-step1')
  return client
}

test('1. MAX_DOC_BYTES: an update that would pass it is refused with 4413 and not stored; the room carries on', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { MAX_DOC_BYTES: String(64 * 1024) } })
  const [a, b] = await honestPair(cleanup, server)

  // 40 KiB fits; another 40 KiB would not.
  const fits = await offender(cleanup, server)
  const writer = new Editor(9001)
  cleanup.add(() => writer.destroy())
  fits.send(encodeUpdate(writer.insert(0, 'f'.repeat(40 * 1024))))
  fits.send(savedQuery(1))
  await fits.waitFrame('saved', (f) => f.id === 1)
  const big = writer.insert(0, 'X'.repeat(40 * 1024))
  fits.send(encodeUpdate(big))
  const closed = await fits.waitClosed({ message: 'the update past MAX_DOC_BYTES was accepted' })
  assert.equal(closed.code, 4413, closed.reason)

  await stillEditing(a, b, 'after')
  const text = a.text.toString()
  assert.ok(!text.includes('X'), 'the refused update reached the clients')
  assert.ok(text.includes('f'.repeat(40 * 1024)), 'the update that fitted was lost')
  assert.equal(await storedText(server), text)
  assert.ok(!(await storedText(server)).includes('X'))
  assert.equal(server.logs.filter((line) => /code=DOCUMENT_TOO_LARGE/.test(line)).length, 1)
})

test('2. MAX_AWARENESS_STATES (8): a ninth client id from one connection is refused with 4413; others unaffected', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const [a, b] = await honestPair(cleanup, server)
  const states = (client: StockClient) => client.provider.awareness.getStates()
  b.provider.awareness.setLocalStateField('user', { name: 'Bea' })
  await waitFor(() => states(a).has(b.doc.clientID), { message: 'a never saw b’s presence' })

  const faker = await offender(cleanup, server)
  const ids = Array.from({ length: 8 }, (_, i) => 7000 + i)
  faker.send(awarenessFrame(ids.map((client) => ({ client, clock: 1, json: '{"user":{"name":"fake"}}' }))))
  await waitFor(() => ids.every((id) => states(a).has(id)), { message: 'eight states from one connection are allowed' })
  // Updating its own states is fine; one more id is not.
  faker.send(awarenessFrame([{ client: 7000, clock: 2, json: '{"user":{"name":"renamed"}}' }]))
  faker.send(awarenessFrame([{ client: 7999, clock: 1, json: '{"user":{"name":"ninth"}}' }]))
  const closed = await faker.waitClosed({ message: 'a ninth presence state was accepted' })
  assert.equal(closed.code, 4413, closed.reason)

  // Its states went with it; the ninth never arrived; the honest presence stayed.
  await waitFor(() => ids.every((id) => !states(a).has(id)), { message: 'the offender’s presence outlived it' })
  assert.equal(states(a).has(7999), false)
  assert.deepEqual(states(a).get(b.doc.clientID), { user: { name: 'Bea' } })
  await stillEditing(a, b, 'after')

  // Many ids in a single message are refused the same way, before any is applied.
  const burst = await offender(cleanup, server)
  burst.send(awarenessFrame(Array.from({ length: 1000 }, (_, i) => ({ client: 10_000 + i, clock: 1, json: '{}' }))))
  assert.equal((await burst.waitClosed()).code, 4413)
  b.provider.awareness.setLocalStateField('user', { name: 'Bea 2' })
  await waitFor(() => (states(a).get(b.doc.clientID) as { user: { name: string } }).user.name === 'Bea 2', { message: 'presence stopped flowing' })
  assert.equal([...states(a).keys()].some((id) => id >= 10_000 && id < 11_000), false, 'part of the refused burst was applied')
})

test('3. a room with more people than MAX_AWARENESS_STATES: stock clients echo everyone’s presence, and nobody is closed', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { MAX_AWARENESS_STATES: '2' } })
  const clients: StockClient[] = []
  for (let i = 0; i < 6; i++) {
    const client = await stockClient(cleanup, server.wsUrl, ROOM)
    client.provider.awareness.setLocalStateField('user', { name: `person ${i}` })
    clients.push(client)
  }
  await waitFor(() => clients.every((c) => c.provider.awareness.getStates().size === clients.length), {
    message: () => `states seen: ${clients.map((c) => c.provider.awareness.getStates().size).join(', ')}; closes: ${clients.map((c) => c.closeCodes).join(' ')}`,
  })
  for (const client of clients) assert.deepEqual(client.closeCodes, [])
  assert.equal(server.logs.filter((line) => /AWARENESS_TOO_LARGE/.test(line)).length, 0)
})

test('4. presence with a bad state after good ones is refused whole (4400): no state outlives the connection', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const client = await offender(cleanup, server)
  client.send(awarenessFrame([
    { client: 5000, clock: 1, json: '{"user":{"name":"ghost"}}' },
    { client: 5001, clock: 1, json: '{not json' },
  ]))
  assert.equal((await client.waitClosed()).code, 4400)
  // A newcomer is sent every state the room holds as it joins.
  const late = await RawClient.connect(cleanup, `${server.wsUrl}/${ROOM}`)
  await late.waitFrame('sync-step1')
  late.send(new Uint8Array([3])) // queryAwareness: the answer lists every state
  const answer = await late.waitFrame('awareness')
  const mirror = new awarenessProtocol.Awareness(new Y.Doc())
  cleanup.add(() => mirror.destroy())
  awarenessProtocol.applyAwarenessUpdate(mirror, answer.update, 'test')
  assert.deepEqual([...mirror.getStates().keys()].filter((id) => id !== mirror.clientID), [], 'a state of the refused message stayed')
})

test('5. MAX_AWARENESS_STATE_BYTES (16 KiB): a larger state is refused with 4413; one at the limit passes', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const [a, b] = await honestPair(cleanup, server)
  const json = (bytes: number) => JSON.stringify({ pad: 'p'.repeat(bytes - '{"pad":""}'.length) })

  const client = await offender(cleanup, server)
  client.send(awarenessFrame([{ client: 8000, clock: 1, json: json(16 * 1024) }]))
  await waitFor(() => a.provider.awareness.getStates().has(8000), { message: 'a state of exactly 16 KiB was refused' })
  client.send(awarenessFrame([{ client: 8000, clock: 2, json: json(16 * 1024 + 1) }]))
  const closed = await client.waitClosed({ message: 'an oversized presence state was accepted' })
  assert.equal(closed.code, 4413, closed.reason)
  await waitFor(() => !a.provider.awareness.getStates().has(8000), { message: 'the offender’s presence outlived it' })
  await stillEditing(a, b, 'after')
})

test('6. MAX_PENDING_BYTES: updates waiting for a missing dependency past it close with 4422, and are dropped', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { MAX_PENDING_BYTES: '1024' } })
  const [a, b] = await honestPair(cleanup, server)

  const author = new Editor(6000)
  cleanup.add(() => author.destroy())
  const missing = author.insert(0, 'base ')
  const dependents: Uint8Array[] = []
  for (let i = 0; i < 40; i++) dependents.push(author.insert(author.text.length, `pending-${i} `.repeat(8)))

  const client = await offender(cleanup, server)
  let sent = 0
  for (const update of dependents) {
    if (client.isClosed) break
    client.send(encodeUpdate(update))
    client.send(savedQuery(++sent))
    await waitFor(() => client.isClosed || client.frames.some((f) => f.kind === 'saved' && f.id === sent), { message: `no answer to update ${sent}` })
  }
  const closed = await client.waitClosed({ message: `${sent} pending updates were all held` })
  assert.equal(closed.code, 4422, closed.reason)
  t.diagnostic(`closed after ${sent} pending updates`)
  assert.ok(sent > 1 && sent < dependents.length, `closed after ${sent} updates`)

  // The missing dependency now arrives: had the pending updates been kept, they would integrate.
  const late = await offender(cleanup, server)
  late.send(encodeUpdate(missing))
  await waitFor(() => a.text.toString().startsWith('base '), { message: () => `a has ${JSON.stringify(a.text.toString())}` })
  await stillEditing(a, b, 'after')
  assert.equal(a.text.toString(), 'base honest after-a after-b')
  assert.equal(await storedText(server), a.text.toString())
})

test('7. an update declaring 2^25-1 structs in 7 bytes is refused with 4422 at once, without allocating for them', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const [a, b] = await honestPair(cleanup, server)
  for (const structs of [2 ** 25 - 1, 2 ** 24, 2 ** 32 - 1]) {
    const client = await offender(cleanup, server)
    const frame = encodeUpdate(hugeStructCount(structs))
    collectGarbage()
    const before = memoryInUse()
    const sentAt = performance.now()
    client.send(frame)
    const closed = await client.waitClosed({ message: 'the hostile update was not refused' })
    // Measured before anything collects what handling it may have allocated.
    const grown = memoryInUse() - before
    const took = performance.now() - sentAt
    t.diagnostic(`${structs} structs: closed ${closed.code} after ${took.toFixed(1)} ms, memory +${(grown / 2 ** 20).toFixed(1)} MiB`)
    assert.equal(closed.code, 4422, closed.reason)
    assert.ok(grown < 50 * 2 ** 20, `memory grew by ${(grown / 2 ** 20).toFixed(0)} MiB for a ${frame.length}-byte update`)
    assert.ok(took < 2000, `took ${took.toFixed(0)} ms to refuse`)
  }
  await stillEditing(a, b, 'after')
  assert.equal(await storedText(server), a.text.toString())
})

test('8. HANDSHAKE_TIMEOUT_MS: a socket that sends nothing is closed with 4408; one that speaks stays', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { HANDSHAKE_TIMEOUT_MS: '300' } })
  const talker = await RawClient.connect(cleanup, `${server.wsUrl}/${ROOM}`)
  talker.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
  const opened = performance.now()
  const silent = await RawClient.connect(cleanup, `${server.wsUrl}/${ROOM}`)
  const closed = await silent.waitClosed({ timeoutMs: 5000, message: 'the silent socket stayed open' })
  const after = performance.now() - opened
  assert.equal(closed.code, 4408, closed.reason)
  assert.ok(after >= 280, `closed after ${after.toFixed(0)} ms, before HANDSHAKE_TIMEOUT_MS`)
  // The talker opened before the silent one, so its timer (had it one) has fired too.
  talker.send(savedQuery(1))
  await talker.waitFrame('saved', (f) => f.id === 1)
  assert.equal(talker.isClosed, false)
  await waitFor(() => server.server.stats().connections === 1, { message: 'the silent socket is still counted' })
  // A raw TCP connection that never finishes its request is left to Node's own timeouts.
  assert.equal(server.server.http.headersTimeout, 10_000)
  assert.equal(server.server.http.requestTimeout, 30_000)
})

test('9. a client that stops reading during a flood of updates is not queued a copy of each: it gets what it missed as one update when it reads again', async (t) => {
  const cleanup = new Cleanup(t)
  // MAX_BUFFERED_BYTES is far below the flood: queued frame by frame, the slow reader would be
  // cut off (1013) as it was before the room learnt to merge for readers that are behind.
  const server = await startServer(cleanup, { env: FLOOD_ENV })
  const [a, b] = await honestPair(cleanup, server)
  const slow = await pausedReader(cleanup, server)
  const flooder = await offender(cleanup, server)
  const author = new Editor(4321)
  cleanup.add(() => author.destroy())

  const chunk = 'z'.repeat(64 * 1024)
  let sent = 0
  let bytes = 0
  // Each flood frame answered (so the room relayed it) before the next; far more than the
  // kernel's buffers hold.
  while (bytes < 24 * 2 ** 20) {
    // Each chunk goes first: appended chunks would merge into one run that every stock client's
    // Yjs re-copies on each update, which made the test slow enough on a loaded machine to
    // outlast the heartbeat.
    const frame = encodeUpdate(author.insert(0, chunk))
    flooder.send(frame)
    bytes += frame.length
    flooder.send(savedQuery(++sent))
    await flooder.waitFrame('saved', (f) => f.id === sent, { message: `no answer to flood message ${sent}` })
  }
  const status = await health(server.httpUrl)
  assert.equal(status.connections, 4, `a client was dropped during ${(bytes / 2 ** 20).toFixed(1)} MiB of flood`)
  await waitFor(() => a.text.length === author.text.length + 'honest'.length, { message: 'a missed part of the flood' })

  slow.ws.resume()
  const doc = new Y.Doc()
  cleanup.add(() => doc.destroy())
  await waitFor(
    () => {
      for (const frame of slow.frames.splice(0)) if (frame.kind === 'update' || frame.kind === 'sync-step2') Y.applyUpdate(doc, frame.update)
      return doc.getText(TEXT_NAME).toString() === a.text.toString()
    },
    { timeoutMs: 20_000, message: () => `the slow reader has ${doc.getText(TEXT_NAME).length} of ${a.text.length} characters` },
  )
  const updates = slow.raw.filter((bytes) => bytes.length > 60 * 1024).length
  t.diagnostic(`${sent} flood updates; the slow reader received ${updates} large frames`)
  assert.ok(updates < sent / 2, `the slow reader was sent ${updates} of ${sent} flood updates one by one`)
  assert.equal(slow.isClosed, false)
  assert.equal(server.logs.filter((line) => /code=SLOW_READER/.test(line)).length, 0)
  await stillEditing(a, b, 'after')
})

test('9b. MAX_BUFFERED_BYTES (256 KiB): a client that stops reading while presence floods is cut off (1013); readers stay', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: FLOOD_ENV })
  const [a, b] = await honestPair(cleanup, server)
  const slow = await pausedReader(cleanup, server)
  const flooder = await offender(cleanup, server)

  // Presence changes are not merged: each is a frame for every peer. 12 KiB states (under the
  // 16 KiB limit), each a different one (the same state again is a renewal, which the room holds
  // and sends once with others), each answered before the next, until the slow reader is gone.
  const name = 'p'.repeat(12 * 1024)
  const state = (n: number) => JSON.stringify({ user: { name }, n })
  let sent = 0
  while (server.server.stats().connections === 4 && sent < 4000) {
    flooder.send(awarenessFrame([{ client: 777, clock: ++sent, json: state(sent) }]))
    flooder.send(savedQuery(sent))
    await flooder.waitFrame('saved', (f) => f.id === sent, { message: `no answer to presence message ${sent}` })
  }
  t.diagnostic(`slow reader dropped after ${sent} presence frames (${((sent * state(sent).length) / 2 ** 20).toFixed(1)} MiB)`)
  const status = await health(server.httpUrl)
  assert.equal(status.connections, 3, `the slow reader is still connected after ${sent} presence frames`)
  slow.ws.resume()
  const closed = await within(slow.closed, { timeoutMs: 10_000, message: 'the slow reader’s socket never ended' })
  assert.ok([1013, 1006].includes(closed.code), `slow reader closed with ${closed.code}`)
  assert.equal(server.logs.filter((line) => /code=SLOW_READER/.test(line)).length, 1)
  assert.equal(flooder.isClosed, false)
  await stillEditing(a, b, 'after')
})

test('10. numbers lib0 reads as Infinity (in presence, updates, delete sets, savedQuery) are refused, never written back', async (t) => {
  const cleanup = new Cleanup(t)
  // A separate process: were one of these to hang the server, this test fails at a deadline
  // instead of freezing with it.
  const server = await spawnServer(cleanup, { dataDir: cleanup.tempDir(), env: { LOG_LEVEL: 'warn' } })
  const author = await stockClient(cleanup, server.wsUrl, ROOM)
  author.text.insert(0, 'honest')
  for (const { title, frame, close } of infiniteNumberFrames()) {
    const client = await RawClient.connect(cleanup, `${server.wsUrl}/${ROOM}`)
    await client.waitFrame('sync-step1')
    client.send(frame)
    client.send(savedQuery(1))
    await waitFor(() => client.isClosed || client.frames.some((f) => f.kind === 'saved'), { timeoutMs: 5000, message: `${title}: the server neither answered nor closed` })
    if (close === null) assert.equal(client.isClosed, false, `${title}: closed`)
    else assert.equal((await client.closed).code, close, title)
    assert.equal((await health(server.httpUrl)).status, 200, `${title}: the server stopped answering`)
  }
  const reader = await stockClient(cleanup, server.wsUrl, ROOM)
  assert.equal(reader.text.toString(), 'honest')
  assert.deepEqual(author.closeCodes, [])
})
