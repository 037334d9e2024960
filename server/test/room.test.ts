/**
 * Room, with in-memory peers and a store the test controls: the durability rule (nothing leaves
 * before the store has it), presence, retries, compaction and rejection of bad updates.
 */
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { TandemError } from '../src/errors.js'
import { silentLogger } from '../src/log.js'
import { decodePresence } from '../src/presence.js'
import { Room, TEXT_NAME, type RoomOptions } from '../src/room.js'
import { Cleanup } from './helpers/cleanup.js'
import { awarenessUpdate } from './helpers/hostile.js'
import { Editor, RecordingPeer, SlowPeer, textOf } from './helpers/peers.js'
import { seededRng, type Rng } from './helpers/random.js'
import { InstrumentedStore } from './helpers/stores.js'
import { deferred, turns, waitFor } from './helpers/wait.js'
import { test, type TestContext } from './helpers/test.js'

const NAME = 'room'

/**
 * What a room keeps between turns that its tests look into: kept past a turn, it outlives the
 * young generation (see Room.taken and Outbox.release).
 */
function retained(room: Room): { taken: unknown; presenceBatches: Map<number, unknown> } {
  const inside = room as unknown as { taken: unknown; outbox: { batches: Map<number, unknown> } }
  return { taken: inside.taken, presenceBatches: inside.outbox.batches }
}

async function setup(t: TestContext, options: Partial<RoomOptions> = {}) {
  const cleanup = new Cleanup(t)
  const store = new InstrumentedStore()
  cleanup.add(() => store.close())
  const room = await Room.load(NAME, store, { compactAfterUpdates: 1000, retryDelayMs: 5, ...options }, silentLogger)
  cleanup.add(() => room.destroy())
  const editors: Editor[] = []
  const editor = (clientID?: number) => {
    const e = new Editor(clientID)
    editors.push(e)
    cleanup.add(() => e.destroy())
    return e
  }
  const peer = () => {
    const p = new RecordingPeer()
    room.join(p)
    return p
  }
  return { cleanup, store, room, editor, peer }
}

const emptyStateVector = () => Y.encodeStateVector(new Y.Doc())

/** A client in the seeded tests: its editor, and how many of its peer's frames it has applied. */
interface SimClient<P extends RecordingPeer> {
  readonly peer: P
  readonly editor: Editor
  delivered: number
}

/** The client applies what the room sent it since the last call, in order. */
function deliver(c: SimClient<RecordingPeer>): void {
  for (; c.delivered < c.peer.frames.length; c.delivered++) {
    const f = c.peer.frames[c.delivered]!
    if (f.kind === 'update' || f.kind === 'sync-step2') c.editor.receive(f.update)
  }
}

/** A random keystroke: a short word inserted anywhere, or now and then a character deleted. */
function randomEdit(rng: Rng, editor: Editor): Uint8Array {
  const length = editor.text.length
  return length > 0 && rng.float() < 0.3 ? editor.delete(rng.int(length), 1) : editor.insert(rng.int(length + 1), rng.word(3))
}

test('1. join sends sync step 1 with the room state; saved only to peers that asked', async (t) => {
  const { room, peer, editor } = await setup(t)
  const author = peer()
  room.handle(author, { kind: 'update', update: editor(7).insert(0, 'abc') })
  await room.flush()

  const plain = peer()
  assert.deepEqual(
    plain.frames.map((f) => f.kind),
    ['sync-step1'],
  )
  const step1 = plain.of('sync-step1')[0]!
  assert.deepEqual(Y.decodeStateVector(step1.stateVector), new Map([[7, 3]]))
  assert.equal(room.size, 2)
})

test('2. an update is not relayed before store.append resolves, then it is (not echoed)', async (t) => {
  const { room, peer, editor, store } = await setup(t)
  const a = peer()
  const b = peer()
  a.clear()
  b.clear()
  const gate = deferred()
  store.before.append = () => gate.promise

  const update = editor().insert(0, 'hello')
  room.handle(a, { kind: 'update', update })
  assert.equal(room.text(), 'hello', 'applied to the room doc at once')
  assert.equal(retained(room).taken, null, 'the state before the transaction is not kept past it')
  await waitFor(() => store.count('append') === 1, { message: 'the room never appended' })
  await turns(5)
  assert.deepEqual(b.frames, [], 'b received something while the append was in flight')

  gate.resolve()
  await waitFor(() => b.of('update').length === 1, { message: 'b never received the update' })
  assert.equal(textOf(b.of('update').map((f) => f.update)), 'hello')
  assert.deepEqual(a.frames, [], 'the author got its own update back')
  const stored = await store.inner.load(NAME)
  assert.equal(stored && textOf(stored.updates), 'hello')
})

test('3. group commit: updates handled in one turn are one append, each relayed to all but its author', async (t) => {
  const { room, peer, editor, store } = await setup(t)
  const [a, b, c] = [peer(), peer(), peer()]
  for (const p of [a, b, c]) p.clear()
  const ea = editor(1)
  const eb = editor(2)
  room.handle(a, { kind: 'update', update: ea.insert(0, 'x') })
  room.handle(b, { kind: 'update', update: eb.insert(0, 'y') })
  room.handle(a, { kind: 'update', update: ea.insert(1, 'z') })
  await room.flush()
  assert.equal(store.count('append'), 1)
  assert.equal(store.calls.find((c) => c.method === 'append')?.data.length, 3, 'one append of three updates')
  assert.equal(a.of('update').length, 1, 'a gets only b’s update')
  assert.equal(b.of('update').length, 2, 'b gets a’s two updates')
  assert.equal(c.of('update').length, 3)
  const ctext = textOf(c.of('update').map((f) => f.update))
  assert.equal(ctext, room.text())
})

test('3b. a batch goes out peer by peer, each peer\'s frames in one write before the next peer\'s, one list for the peers that get the same', async (t) => {
  const { room, editor } = await setup(t)
  // Frame by frame, the first reader would wait for every other reader's frames to be written.
  const log: string[] = []
  const lists: Array<readonly Uint8Array[]> = []
  class ManyPeer extends RecordingPeer {
    constructor(readonly label: string) {
      super()
    }
    override send(frame: Uint8Array): void {
      super.send(frame)
      log.push(`${this.label} send`)
    }
    sendMany(frames: readonly Uint8Array[]): void {
      for (const frame of frames) super.send(frame)
      log.push(`${this.label} sendMany ${frames.length}`)
      lists.push(frames)
    }
  }
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((label) => new ManyPeer(label)) as [ManyPeer, ManyPeer, ManyPeer, ManyPeer]
  for (const p of [a, b, c, d]) room.join(p)
  await room.flush()
  log.length = 0
  room.handle(a, { kind: 'update', update: editor(1).insert(0, 'x') })
  room.handle(b, { kind: 'update', update: editor(2).insert(0, 'y') })
  await room.flush()
  // One frame goes as it is; two or more in one write. c and d get the same frames: one list.
  assert.deepEqual(log, ['a send', 'b send', 'c sendMany 2', 'd sendMany 2'])
  assert.equal(lists[0], lists[1], 'c and d were handed the same list')
  for (const p of [c, d]) assert.equal(textOf(p.of('update').map((f) => f.update)).length, 2, 'both updates')
})

test('3c. a peer that leaves while a batch is being sent to it (a slow reader closed): the others get exactly their frames', async (t) => {
  const { room, editor, cleanup } = await setup(t)
  // Connection.send closes a reader past MAX_BUFFERED_BYTES, and its close handler leaves the
  // room at once, which broadcasts the removal of its presence from inside the delivery.
  class LeavingPeer extends RecordingPeer {
    override send(frame: Uint8Array): void {
      super.send(frame)
      if (this.frames.at(-1)?.kind === 'update') room.leave(this)
    }
  }
  const [a, b, c] = [new RecordingPeer(), new LeavingPeer(), new RecordingPeer()]
  for (const p of [a, b, c]) room.join(p)
  const presence = new awarenessProtocol.Awareness(new Y.Doc())
  cleanup.add(() => presence.destroy())
  presence.setLocalState({ user: { name: 'Bea' } })
  // b's presence: its removal is what b's leaving broadcasts.
  room.handle(b, { kind: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(presence, [presence.clientID]) })
  await room.flush()
  for (const p of [a, c]) p.clear()
  const e = editor(8)
  room.handle(a, { kind: 'update', update: e.insert(0, 'x') })
  room.handle(c, { kind: 'update', update: editor(9).insert(0, 'y') })
  await room.flush()
  // The removal goes out from inside the delivery, so a peer not yet sent the batch gets it
  // first: the two are independent.
  const kinds = (p: RecordingPeer) => p.frames.map((f) => f.kind).sort()
  assert.deepEqual(kinds(a), ['awareness', 'update'], 'a: c\'s update and b\'s removal, never its own update')
  assert.deepEqual(kinds(c), ['awareness', 'update'], 'c: a\'s update and b\'s removal')
  assert.equal(textOf(a.of('update').map((f) => f.update)), 'y')
  assert.equal(textOf(c.of('update').map((f) => f.update)), 'x')
})

test('4. a sync step 1 reply waits for the commit in flight and includes it', async (t) => {
  const { room, peer, editor, store } = await setup(t)
  const a = peer()
  const gate = deferred()
  store.before.append = () => gate.promise

  room.handle(a, { kind: 'update', update: editor().insert(0, 'durable') })
  // Asked while the update is pending (not yet handed to the store)...
  const early = peer()
  room.handle(early, { kind: 'sync-step1', stateVector: emptyStateVector() })
  await waitFor(() => store.count('append') === 1, { message: 'no append' })
  // ...and while the append is in flight.
  const late = peer()
  room.handle(late, { kind: 'sync-step1', stateVector: emptyStateVector() })
  // A peer that leaves before its reply is ready gets nothing.
  const gone = peer()
  room.handle(gone, { kind: 'sync-step1', stateVector: emptyStateVector() })
  room.leave(gone)
  await turns(5)
  assert.deepEqual(early.of('sync-step2'), [])
  assert.deepEqual(late.of('sync-step2'), [])

  gate.resolve()
  await waitFor(() => early.of('sync-step2').length === 1 && late.of('sync-step2').length === 1, {
    message: 'sync step 2 replies never came',
  })
  assert.equal(textOf(early.of('sync-step2').map((f) => f.update)), 'durable')
  assert.equal(textOf(late.of('sync-step2').map((f) => f.update)), 'durable')
  assert.deepEqual(gone.of('sync-step2'), [])

  // With nothing pending the reply is immediate.
  const now = peer()
  room.handle(now, { kind: 'sync-step1', stateVector: emptyStateVector() })
  assert.equal(now.of('sync-step2').length, 1)
})

test('5. awareness is relayed within the turn, and removed (broadcast) when its peer leaves', async (t) => {
  const { room, peer, cleanup } = await setup(t)
  const a = peer()
  const b = peer()
  b.clear()
  const clientDoc = new Y.Doc()
  clientDoc.clientID = 1001
  const clientAwareness = new awarenessProtocol.Awareness(clientDoc)
  const mirror = new awarenessProtocol.Awareness(new Y.Doc())
  cleanup.add(() => {
    clientAwareness.destroy()
    mirror.destroy()
  })
  clientAwareness.setLocalState({ user: { name: 'Ada' } })

  room.handle(a, { kind: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(clientAwareness, [1001]) })
  await waitFor(() => b.of('awareness').length === 1, { message: 'b never got the presence' })
  assert.equal(a.of('awareness').length, 0, 'not echoed')
  for (const f of b.of('awareness')) awarenessProtocol.applyAwarenessUpdate(mirror, f.update, 'server')
  assert.deepEqual(mirror.getStates().get(1001), { user: { name: 'Ada' } })
  assert.deepEqual([...retained(room).presenceBatches], [[1001, null]], 'a present client keeps an empty entry')

  const c = peer()
  assert.deepEqual(
    c.frames.map((f) => f.kind),
    ['sync-step1', 'awareness'],
    'a joiner gets everyone present',
  )

  b.clear()
  room.leave(a)
  await waitFor(() => b.of('awareness').length === 1, { message: 'the removal was not broadcast' })
  for (const f of b.of('awareness')) awarenessProtocol.applyAwarenessUpdate(mirror, f.update, 'server')
  assert.equal(mirror.getStates().has(1001), false)
  assert.equal(room.presence.has(1001), false)
  assert.equal(retained(room).presenceBatches.size, 0, 'no entry is left for a client that is gone')
  assert.equal(room.size, 2)
})

test('5a. the presence changes of one turn leave as one frame per peer, each without its own', async (t) => {
  const { room, peer, cleanup } = await setup(t)
  const [a, b, c] = [peer(), peer(), peer()]
  for (const p of [a, b, c]) p.clear()
  const client = (id: number, name: string) => {
    const doc = new Y.Doc()
    doc.clientID = id
    const awareness = new awarenessProtocol.Awareness(doc)
    cleanup.add(() => awareness.destroy())
    awareness.setLocalState({ user: { name } })
    return awareness
  }
  const [ada, bo] = [client(2001, 'Ada'), client(2002, 'Bo')]
  const said = (awareness: awarenessProtocol.Awareness) => awarenessProtocol.encodeAwarenessUpdate(awareness, [awareness.clientID])
  // One turn: a joins the presence, b joins it, a moves its cursor.
  room.handle(a, { kind: 'awareness', update: said(ada) })
  room.handle(b, { kind: 'awareness', update: said(bo) })
  ada.setLocalState({ user: { name: 'Ada' }, cursor: 3 })
  room.handle(a, { kind: 'awareness', update: said(ada) })
  await room.flush()

  const statesIn = (p: RecordingPeer) => {
    assert.equal(p.of('awareness').length, 1, 'one presence frame for the turn')
    const mirror = new awarenessProtocol.Awareness(new Y.Doc())
    cleanup.add(() => mirror.destroy())
    awarenessProtocol.applyAwarenessUpdate(mirror, p.of('awareness')[0]!.update, 'server')
    mirror.getStates().delete(mirror.clientID)
    return Object.fromEntries(mirror.getStates())
  }
  assert.deepEqual(statesIn(c), { 2001: { user: { name: 'Ada' }, cursor: 3 }, 2002: { user: { name: 'Bo' } } }, 'c: both, Ada as she is now')
  assert.deepEqual(statesIn(a), { 2002: { user: { name: 'Bo' } } }, 'a: only b')
  assert.deepEqual(statesIn(b), { 2001: { user: { name: 'Ada' }, cursor: 3 } }, 'b: only a')

  // Both leave in one turn: c hears of it in one frame.
  c.clear()
  room.leave(a)
  room.leave(b)
  await room.flush()
  assert.equal(c.of('awareness').length, 1)
  assert.deepEqual(room.presence.clients(), [])
})

test('5c. a cursor move alone is relayed as it came; anything else is encoded from the states as they are then', async (t) => {
  const { room, peer } = await setup(t)
  const [a, b] = [peer(), peer()]
  b.clear()
  // Awareness messages as a client may write them: JSON with spaces, which y-protocols would not write.
  const said = (...states: Array<[client: number, clock: number, json: string]>) =>
    awarenessUpdate(states.map(([client, clock, json]) => ({ client, clock, json })))
  const moved = said([3001, 1, '{ "cursor": 1 }'])
  room.handle(a, { kind: 'awareness', update: moved })
  await room.flush()
  assert.deepEqual(b.of('awareness').map((f) => Array.from(f.update)), [Array.from(moved)], 'a cursor move alone goes out as it came')

  // One turn: the same id moves alone, then again in a message that also holds a state the room
  // ignores (an old clock). What goes out is the latest state, encoded: not the first message.
  b.clear()
  room.handle(a, { kind: 'awareness', update: said([3001, 2, '{ "cursor": 2 }']) })
  room.handle(a, { kind: 'awareness', update: said([3001, 3, '{ "cursor": 3 }'], [3002, 0, 'null']) })
  await room.flush()
  assert.deepEqual(JSON.parse(room.presence.state(3001) ?? 'null'), { cursor: 3 })
  assert.deepEqual(
    b.of('awareness').map((f) => Array.from(f.update)),
    // The state's text as the client wrote it: the server keeps JSON as it came (presence.ts).
    [Array.from(said([3001, 3, '{ "cursor": 3 }']))],
    'one frame, with the state as it is now',
  )
})

test('5d. presence not renewed within the timeout is dropped and the others told; a renewed one stays', async (t) => {
  const { room, peer, cleanup } = await setup(t, { presenceTimeoutMs: 500 })
  const [a, b, c] = [peer(), peer(), peer()]
  const state = (id: number, clock: number) => {
    const doc = new Y.Doc()
    doc.clientID = id
    const awareness = new awarenessProtocol.Awareness(doc)
    cleanup.add(() => awareness.destroy())
    awareness.setLocalState({ user: { name: `client ${id}` } })
    awareness.meta.get(id)!.clock = clock
    return awarenessProtocol.encodeAwarenessUpdate(awareness, [id])
  }
  room.handle(a, { kind: 'awareness', update: state(4001, 1) })
  room.handle(b, { kind: 'awareness', update: state(4002, 1) })
  await room.flush()
  // b renews its state (as a stock client does, well within the timeout); a goes silent.
  const started = Date.now()
  let clock = 1
  const renew = setInterval(() => room.handle(b, { kind: 'awareness', update: state(4002, ++clock) }), 50)
  cleanup.add(() => clearInterval(renew))
  await waitFor(() => !room.presence.has(4001), { message: 'a’s silent presence was never dropped', timeoutMs: 5000 })
  assert.ok(Date.now() - started >= 450, 'dropped before its timeout')
  await room.flush()
  const mirror = new awarenessProtocol.Awareness(new Y.Doc())
  cleanup.add(() => mirror.destroy())
  const heard = c.of('awareness')
  awarenessProtocol.applyAwarenessUpdate(mirror, heard[0]!.update, 'server')
  assert.ok(mirror.getStates().has(4001), 'c never heard of a')
  for (const f of heard.slice(1)) awarenessProtocol.applyAwarenessUpdate(mirror, f.update, 'server')
  assert.equal(mirror.getStates().has(4001), false, 'c was not told that a is gone')
  assert.ok(mirror.getStates().has(4002))
  assert.ok(room.presence.has(4002), 'a renewed presence was dropped')
  // Once gone for the timeout too, a is forgotten: a busy room keeps no record of every visit.
  await waitFor(() => room.presence.clock(4001) === 0, { message: 'a was never forgotten', timeoutMs: 5000 })
  assert.equal(room.presence.clock(4002), clock, 'b, present, was forgotten')
})

test('5e. renewals (the same state, a newer clock) wait and go out together, one frame for every peer; a change goes at once', async (t) => {
  const renewalDelayMs = 200
  const { room, peer } = await setup(t, { renewalDelayMs })
  const [a, b, c] = [peer(), peer(), peer()]
  const said = (...states: Array<[client: number, clock: number, json: string]>) =>
    awarenessUpdate(states.map(([client, clock, json]) => ({ client, clock, json })))
  /** The entries of a presence frame, as [client, clock, JSON]. */
  const entries = (frame: { update: Uint8Array }) => decodePresence(frame.update).map((e) => [e.client, e.clock, e.json])
  room.handle(a, { kind: 'awareness', update: said([5001, 1, '{"user":"Ada"}']) })
  room.handle(b, { kind: 'awareness', update: said([5002, 1, '{"user":"Bo"}']) })
  await room.flush()
  for (const p of [a, b, c]) p.clear()

  // Both renew, in different turns: nothing goes out with the turn, then one frame with both.
  const started = Date.now()
  room.handle(a, { kind: 'awareness', update: said([5001, 2, '{"user":"Ada"}']) })
  await room.flush()
  room.handle(b, { kind: 'awareness', update: said([5002, 2, '{"user":"Bo"}']) })
  await room.flush()
  assert.deepEqual(c.of('awareness'), [], 'a renewal went out with its turn')
  await waitFor(() => c.of('awareness').length > 0, { message: 'the renewals never went out', timeoutMs: 5000 })
  assert.ok(Date.now() - started >= renewalDelayMs - 20, `sent after ${Date.now() - started} ms, before the delay`)
  for (const p of [a, b, c]) {
    assert.equal(p.of('awareness').length, 1, 'one frame for both renewals')
    // The renewing peers too: one frame for all, and a stock client ignores a clock it has.
    assert.deepEqual(entries(p.of('awareness')[0]!), [[5001, 2, '{"user":"Ada"}'], [5002, 2, '{"user":"Bo"}']])
  }
  assert.equal(room.presence.clock(5001), 2, 'the renewal was not applied at once')

  // b renews, then changes before the renewal went out: the change goes with its turn, and the
  // held renewal does not follow it. a renews and leaves: its removal goes at once, and nothing of
  // it later. 5003 (on c) renews after them: its frame, when it comes, is the only one left.
  for (const p of [a, b, c]) p.clear()
  room.handle(c, { kind: 'awareness', update: said([5003, 1, '{"user":"Cy"}']) })
  await room.flush()
  room.handle(b, { kind: 'awareness', update: said([5002, 3, '{"user":"Bo"}']) })
  room.handle(a, { kind: 'awareness', update: said([5001, 3, '{"user":"Ada"}']) })
  await room.flush()
  room.handle(b, { kind: 'awareness', update: said([5002, 4, '{"user":"Bo","cursor":1}']) })
  room.leave(a)
  await room.flush()
  assert.deepEqual(c.of('awareness').map(entries), [[[5002, 4, '{"user":"Bo","cursor":1}'], [5001, 3, 'null']]], 'c: b’s change and a’s removal, with their turn')
  c.clear()
  room.handle(c, { kind: 'awareness', update: said([5003, 2, '{"user":"Cy"}']) })
  const renewalFrames = () => b.of('awareness').filter((f) => entries(f).some(([id, clock]) => id === 5003 && clock === 2))
  await waitFor(() => renewalFrames().length > 0, { message: 'c’s renewal never went out', timeoutMs: 5000 })
  assert.equal(renewalFrames().length, 1)
  assert.deepEqual(entries(renewalFrames()[0]!), [[5003, 2, '{"user":"Cy"}']], 'the renewal frame carried a or b too')
  assert.deepEqual(c.of('awareness').map(entries).flat().map(([id]) => id), [5003], 'c heard of a or b again')
})

test('5b. a cursor sent right after a keystroke never overtakes it; with the store failing, presence still flows', async (t) => {
  const { room, peer, editor, store, cleanup } = await setup(t)
  const a = peer()
  const b = peer()
  b.clear()
  const clientDoc = new Y.Doc()
  clientDoc.clientID = 1002
  const clientAwareness = new awarenessProtocol.Awareness(clientDoc)
  cleanup.add(() => clientAwareness.destroy())
  const cursor = (at: number) => {
    clientAwareness.setLocalState({ cursor: at })
    return awarenessProtocol.encodeAwarenessUpdate(clientAwareness, [1002])
  }
  const gate = deferred()
  store.before.append = () => gate.promise

  // What a typist's provider sends: the keystroke, then its cursor, read in one turn.
  room.handle(a, { kind: 'update', update: editor().insert(0, 'x') })
  room.handle(a, { kind: 'awareness', update: cursor(1) })
  await waitFor(() => store.count('append') === 1, { message: 'the room never appended' })
  assert.equal(b.frames.length, 0, 'the cursor went ahead of the keystroke it follows')
  gate.resolve()
  await waitFor(() => b.frames.length === 2, { message: 'keystroke and cursor never arrived' })
  assert.deepEqual(
    b.frames.map((f) => f.kind),
    ['update', 'awareness'],
  )

  // A store that fails holds the text back (nothing unstored is relayed), not who is here.
  b.clear()
  store.before.append = () => {
    throw new Error('disk full')
  }
  room.handle(a, { kind: 'update', update: editor().insert(0, 'y') })
  await waitFor(() => store.count('append') >= 3, { message: 'the failing append was not retried' })
  room.handle(a, { kind: 'awareness', update: cursor(2) })
  assert.deepEqual(
    b.frames.map((f) => f.kind),
    ['awareness'],
    'presence froze with the store',
  )
  store.before.append = () => undefined
  await waitFor(() => b.of('update').length === 1, { message: 'the update was not relayed once the store recovered' })
})

test('6. a failed append keeps the update unrelayed and is retried', async (t) => {
  const { room, peer, editor, store } = await setup(t)
  const a = peer()
  const b = peer()
  b.clear()
  const gate = deferred()
  let attempts = 0
  store.before.append = () => {
    attempts++
    if (attempts === 1) throw new Error('disk full')
    return gate.promise
  }

  room.handle(a, { kind: 'update', update: editor().insert(0, 'retry me') })
  const reader = peer()
  room.handle(reader, { kind: 'sync-step1', stateVector: emptyStateVector() })
  await waitFor(() => store.count('append') === 2, { message: 'the failed append was not retried' })
  assert.deepEqual(b.of('update'), [], 'relayed after a failed append')
  assert.deepEqual(reader.of('sync-step2'), [], 'answered from state that is not stored')

  gate.resolve()
  await waitFor(() => b.of('update').length === 1 && reader.of('sync-step2').length === 1, {
    message: 'nothing delivered after the retry succeeded',
  })
  await room.flush()
  assert.equal(b.of('update').length, 1, 'relayed exactly once')
  const stored = await store.inner.load(NAME)
  assert.equal(stored?.updates.length, 1, 'stored exactly once')
  assert.equal(textOf(stored!.updates), 'retry me')
  assert.equal(textOf(reader.of('sync-step2').map((f) => f.update)), 'retry me')
})

test('7. compaction runs once the stored tail reaches compactAfterUpdates', async (t) => {
  const { room, peer, editor, store } = await setup(t, { compactAfterUpdates: 5 })
  const a = peer()
  const e = editor()
  for (let i = 0; i < 4; i++) {
    room.handle(a, { kind: 'update', update: e.insert(e.text.length, String(i)) })
    await room.flush()
  }
  assert.equal(store.count('compact'), 0)
  room.handle(a, { kind: 'update', update: e.insert(e.text.length, '4') })
  await room.flush()
  assert.equal(store.count('compact'), 1)
  const call = store.calls.find((c) => c.method === 'compact')!
  assert.equal(call.upTo, 5)
  let stored = await store.inner.load(NAME)
  assert.equal(stored?.tail, 0)
  assert.equal(stored?.updates.length, 1)
  assert.equal(textOf(stored!.updates), '01234')

  for (let i = 5; i < 10; i++) {
    room.handle(a, { kind: 'update', update: e.insert(e.text.length, String(i)) })
    await room.flush()
  }
  assert.equal(store.count('compact'), 2)
  stored = await store.inner.load(NAME)
  assert.equal(stored?.tail, 0)
  assert.equal(textOf(stored!.updates), '0123456789')

  // A room loaded from the compacted store carries on.
  const again = await Room.load(NAME, store, { compactAfterUpdates: 5, retryDelayMs: 5 }, silentLogger)
  assert.equal(again.text(), '0123456789')
  again.destroy()
})

test('8. an update Yjs cannot apply throws INVALID_UPDATE; the doc and the store are unchanged', async (t) => {
  const { room, peer, editor, store } = await setup(t)
  const a = peer()
  const b = peer()
  room.handle(a, { kind: 'update', update: editor(5).insert(0, 'honest') })
  await room.flush()
  b.clear()
  const appendsBefore = store.count('append')
  const stateBefore = Y.encodeStateAsUpdate(room.doc)

  // A real update cut short inside its delete set: Yjs integrates the insertions before it
  // reads the delete set, so this is the case where a half-applied update could slip through.
  const evil = new Editor(6)
  evil.insert(0, 'INJECTED')
  evil.delete(1, 2)
  const full = Y.encodeStateAsUpdate(evil.doc)
  evil.destroy()
  const cases: Array<[string, Uint8Array]> = [
    ['over-long varint', new Uint8Array(11).fill(0xff)],
    ['truncated struct section', full.subarray(0, 5)],
    ['truncated delete set', full.subarray(0, full.length - 1)],
  ]
  for (const [what, update] of cases) {
    for (const kind of ['update', 'sync-step2'] as const) {
      assert.throws(
        () => room.handle(a, { kind, update }),
        (err: unknown) => err instanceof TandemError && err.code === 'INVALID_UPDATE' && err.closeCode === 4422,
        `${what} as ${kind}`,
      )
      assert.equal(room.text(), 'honest', `${what} as ${kind} changed the text`)
      assert.deepEqual(Y.encodeStateAsUpdate(room.doc), stateBefore, `${what} as ${kind} changed the doc`)
    }
  }
  await room.flush()
  await turns(3)
  assert.equal(store.count('append'), appendsBefore, 'something was appended')
  assert.deepEqual(b.frames, [], 'something was relayed')
  assert.equal(textOf((await store.inner.load(NAME))!.updates), 'honest')
})

test('9. saved: a query is answered only once what the peer sent before it is stored, deletions too', async (t) => {
  const { room, peer, editor, store } = await setup(t)
  const author = peer()
  const watcher = peer()
  const e = editor(42)
  room.handle(author, { kind: 'update', update: e.insert(0, 'abc') })
  await room.flush()
  author.clear()

  // A delete-only update does not advance any state vector: only the query/answer order shows it.
  const gate = deferred()
  store.before.append = () => gate.promise
  room.handle(author, { kind: 'update', update: e.delete(1, 1) })
  room.handle(author, { kind: 'saved-query', id: 7 })
  await waitFor(() => store.count('append') === 2, { message: 'the delete was never appended' })
  await turns(5)
  assert.deepEqual(author.of('saved'), [], 'answered before the delete was stored')
  gate.resolve()
  await waitFor(() => author.of('saved').length === 1, { message: 'the query was never answered' })
  assert.deepEqual(author.of('saved'), [{ kind: 'saved', id: 7 }])
  assert.equal(textOf((await store.inner.load(NAME))!.updates), 'ac')
  assert.deepEqual(watcher.of('saved'), [], 'a peer that did not ask was answered')

  // Nothing pending: answered at once.
  room.handle(author, { kind: 'saved-query', id: 8 })
  assert.deepEqual(author.of('saved').at(-1), { kind: 'saved', id: 8 })
})

test('10. seeded random interleaving: editors, delivery and commits in any order converge', async (t) => {
  const rng = seededRng(t)
  const { room, editor, store } = await setup(t, { compactAfterUpdates: 25 })
  const clients: SimClient<RecordingPeer>[] = Array.from({ length: 4 }, (_, i) => ({ peer: new RecordingPeer(), editor: editor(100 + i), delivered: 0 }))
  for (const c of clients) room.join(c.peer)
  for (let step = 0; step < 400; step++) {
    const c = rng.pick(clients)
    const r = rng.float()
    if (r < 0.55) {
      room.handle(c.peer, { kind: 'update', update: randomEdit(rng, c.editor) })
    } else if (r < 0.8) {
      deliver(c)
    } else if (r < 0.9) {
      room.handle(c.peer, { kind: 'sync-step1', stateVector: Y.encodeStateVector(c.editor.doc) })
    } else {
      await turns(1 + rng.int(3))
    }
  }
  await room.flush()
  for (const c of clients) deliver(c)
  for (const c of clients) assert.equal(c.editor.text.toString(), room.text(), `client ${c.editor.doc.clientID}`)
  assert.equal(textOf((await store.inner.load(NAME))!.updates), room.text())
  assert.ok(store.count('compact') > 0, 'compaction ran during the run')
})

test('11. a peer that is behind gets the updates it missed as one, once drained; none lost around a commit in flight', async (t) => {
  const { room, editor, store } = await setup(t)
  const author = new RecordingPeer()
  const slow = new SlowPeer()
  const other = new RecordingPeer()
  for (const p of [author, slow, other]) room.join(p)
  const e = editor(5)
  const type = async (text: string) => {
    room.handle(author, { kind: 'update', update: e.insert(e.text.length, text) })
    await room.flush()
  }
  const updates = (p: RecordingPeer) => p.of('update').map((f) => f.update)

  await type('a')
  assert.equal(updates(slow).length, 1)
  // Its queue is long now: the next update is still sent, then it is behind.
  slow.backlog = 1 << 20
  // An update taken while the one before is being stored: in the doc (so in the state vector
  // read when the peer falls behind) before it is relayed, so it must still go one by one.
  const gate = deferred()
  store.before.append = () => gate.promise
  room.handle(author, { kind: 'update', update: e.insert(1, 'b') })
  await waitFor(() => store.count('append') === 2, { message: 'no append' })
  room.handle(author, { kind: 'update', update: e.insert(2, 'c') })
  store.before.append = undefined
  gate.resolve()
  await room.flush()
  assert.equal(updates(slow).length, 3, 'b, then c (taken before the peer fell behind), one by one')
  assert.ok(slow.drainAwaited)

  for (const ch of 'defgh') await type(ch)
  assert.equal(updates(slow).length, 3, 'sent to a peer that is behind')
  // The queue drains while an update is being stored: the catch-up holds it, so it waits too.
  const gate2 = deferred()
  store.before.append = () => gate2.promise
  room.handle(author, { kind: 'update', update: e.insert(e.text.length, 'i') })
  await waitFor(() => store.count('append') === 9, { message: 'no append' })
  slow.drain()
  await turns(5)
  assert.equal(updates(slow).length, 3, 'the catch-up left before what it holds was stored')
  store.before.append = undefined
  // Taken after the catch-up was computed: sent as usual, after it.
  room.handle(author, { kind: 'update', update: e.insert(e.text.length, 'j') })
  gate2.resolve()
  await room.flush()
  await room.flush()

  assert.equal(updates(slow).length, 5, 'the catch-up (d to i) and j')
  assert.equal(textOf(updates(slow).slice(0, 4)), 'abcdefghi', 'the catch-up holds d to i')
  assert.equal(textOf(updates(slow)), 'abcdefghij')
  assert.equal(updates(other).length, 10, 'a peer that keeps up gets every update')
  assert.equal(textOf(updates(other)), room.text())

  // Behind again: the same, from where it is now.
  slow.backlog = 1 << 20
  await type('k')
  await type('l')
  slow.drain()
  await room.flush()
  assert.equal(textOf(updates(slow)), 'abcdefghijkl')
  assert.equal(updates(slow).length, 7, 'k sent, then l in a catch-up')
})

test('12. seeded random: peers falling behind and draining at random still converge with the room', async (t) => {
  const rng = seededRng(t)
  const { room, editor } = await setup(t, { compactAfterUpdates: 25 })
  const clients: SimClient<SlowPeer>[] = Array.from({ length: 4 }, (_, i) => ({ peer: new SlowPeer(), editor: editor(200 + i), delivered: 0 }))
  for (const c of clients) room.join(c.peer)
  let caughtUp = 0
  for (let step = 0; step < 600; step++) {
    const c = rng.pick(clients)
    const r = rng.float()
    if (r < 0.5) {
      room.handle(c.peer, { kind: 'update', update: randomEdit(rng, c.editor) })
    } else if (r < 0.7) {
      deliver(c)
    } else if (r < 0.8) {
      c.peer.backlog = 1 << 20
    } else if (r < 0.9) {
      if (c.peer.drainAwaited) caughtUp++
      c.peer.drain()
    } else {
      await turns(1 + rng.int(3))
    }
  }
  for (const c of clients) c.peer.drain()
  await room.flush()
  for (const c of clients) deliver(c)
  t.diagnostic(`${caughtUp} catch-ups`)
  assert.ok(caughtUp > 10, 'peers rarely fell behind: the run tested little')
  for (const c of clients) assert.equal(c.editor.text.toString(), room.text(), `client ${c.editor.doc.clientID}`)
})

/** Document update messages, as handleAll() gets them from one read of a socket. */
const updates = (...list: Uint8Array[]) => list.map((update) => ({ kind: 'update' as const, update }))

test('13. updates that came together are applied in one transaction and kept as one update; one the doc holds adds nothing', async (t) => {
  const { room, peer, editor, store } = await setup(t)
  const [a, b] = [peer(), peer()]
  b.clear()
  const e = editor(3)
  const sent = [e.insert(0, 'hello'), e.insert(5, ' world'), e.delete(0, 1), e.insert(0, 'J'), e.delete(3, 2)]
  let transactions = 0
  room.doc.on('afterTransaction', () => transactions++)
  room.handleAll(a, updates(...sent))
  assert.equal(transactions, 1, 'one transaction for the run')
  assert.equal(room.text(), e.text.toString())
  assert.equal(retained(room).taken, null, 'the state before the run is not kept past it')
  await room.flush()
  assert.equal(b.of('update').length, 1, 'b gets the run as one update')
  assert.equal(textOf(b.of('update').map((f) => f.update)), e.text.toString())
  const stored = await store.inner.load(NAME)
  assert.equal(stored?.updates.length, 1, 'one row')
  assert.equal(textOf(stored!.updates), e.text.toString())

  // An update the doc already holds, sent again in the middle of a run: nothing of it is kept
  // twice, and the updates around it are.
  const more = [e.insert(0, '>'), e.insert(1, ' '), e.insert(2, '!')]
  room.handleAll(a, updates(more[0]!, sent[1]!, more[1]!, more[2]!))
  assert.equal(room.text(), e.text.toString())
  await room.flush()
  const relayed = b.of('update').slice(1).map((f) => f.update)
  assert.ok(relayed.length <= 2, `the run relayed in ${relayed.length} updates`)
  const doc = new Y.Doc()
  for (const u of [...sent, ...relayed]) Y.applyUpdate(doc, u)
  assert.equal(doc.getText(TEXT_NAME).toString(), e.text.toString())
  assert.deepEqual(Y.encodeStateVector(doc), Y.encodeStateVector(e.doc))
})

test('13b. characters typed in a row reach readers and the store as one struct', async (t) => {
  const { room, peer, editor, store } = await setup(t)
  const [a, b] = [peer(), peer()]
  b.clear()
  const e = editor(7)
  room.handleAll(a, updates(e.insert(0, 'start: ')))
  const typed = Array.from('typed in a row', (ch, i) => e.insert(7 + i, ch))
  room.handleAll(a, updates(...typed))
  assert.equal(room.text(), 'start: typed in a row')
  await room.flush()
  const relayed = b.of('update').at(-1)!.update
  assert.equal(Y.decodeUpdate(relayed).structs.length, 1, 'one struct relayed')
  const reader = new Y.Doc()
  for (const f of b.of('update')) Y.applyUpdate(reader, f.update)
  assert.equal(reader.getText(TEXT_NAME).toString(), e.text.toString())
  assert.deepEqual(Y.encodeStateVector(reader), Y.encodeStateVector(e.doc))
  const stored = (await store.inner.load(NAME))!.updates
  assert.equal(stored.length, 2, 'a row for the first update, one for the run')
  assert.equal(textOf(stored), e.text.toString())
})

test('14. a run meets an update that waits for a dependency, then a malformed one: all before it kept, nothing after', async (t) => {
  const { room, peer, editor, store } = await setup(t)
  const [a, b] = [peer(), peer()]
  b.clear()
  const e = editor(4)
  const [u1, u2, u3, u4, u5] = ['a', 'b', 'c', 'd', 'e'].map((ch, i) => e.insert(i, ch)) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array]
  // u3 arrives before u2: it waits, and u2 brings it in; the run goes on after them.
  room.handleAll(a, updates(u1, u3, u2, u4))
  assert.equal(room.text(), 'abcd')
  assert.throws(
    () => room.handleAll(a, [...updates(u5), { kind: 'update', update: new Uint8Array([1, 2, 3]) }, ...updates(e.insert(5, 'f'))]),
    (err: unknown) => err instanceof TandemError && err.code === 'INVALID_UPDATE',
  )
  assert.equal(room.text(), 'abcde', 'the update after the malformed one was not applied')
  await room.flush()
  assert.equal(textOf(b.of('update').map((f) => f.update)), 'abcde')
  assert.equal(textOf((await store.inner.load(NAME))!.updates), 'abcde')
})

test('15. seeded random: updates delivered in runs, out of order and repeated, converge with the room and the store', async (t) => {
  const rng = seededRng(t)
  const { room, editor, store } = await setup(t, { compactAfterUpdates: 40 })
  const clients = Array.from({ length: 3 }, (_, i) => ({ peer: new RecordingPeer(), editor: editor(200 + i), delivered: 0, unsent: [] as Uint8Array[] }))
  for (const c of clients) room.join(c.peer)
  for (let step = 0; step < 300; step++) {
    const c = rng.pick(clients)
    const r = rng.float()
    if (r < 0.6) {
      c.unsent.push(randomEdit(rng, c.editor))
    } else if (r < 0.85 && c.unsent.length > 0) {
      // One read's worth: its updates in order, now and then two swapped or one repeated.
      const run = c.unsent.splice(0, 1 + rng.int(c.unsent.length))
      if (run.length > 1 && rng.float() < 0.3) {
        const k = rng.int(run.length - 1)
        ;[run[k], run[k + 1]] = [run[k + 1]!, run[k]!]
      }
      if (rng.float() < 0.2) run.push(rng.pick(run))
      room.handleAll(c.peer, updates(...run))
    } else if (r < 0.95) {
      deliver(c)
    } else {
      await turns(1 + rng.int(3))
    }
  }
  for (const c of clients) room.handleAll(c.peer, updates(...c.unsent))
  await room.flush()
  for (const c of clients) deliver(c)
  for (const c of clients) assert.equal(c.editor.text.toString(), room.text(), `client ${c.editor.doc.clientID}`)
  assert.equal(textOf((await store.inner.load(NAME))!.updates), room.text())
})

test('16. a stored tail large in bytes is compacted long before it is long in rows', async (t) => {
  const { room, peer, editor, store } = await setup(t, { compactAfterUpdates: 1000 })
  const a = peer()
  const e = editor(5)
  const chunk = 'x'.repeat(20 * 1024)
  for (let i = 0; i < 3; i++) {
    room.handle(a, { kind: 'update', update: e.insert(0, chunk) })
    await room.flush()
  }
  assert.equal(store.count('compact'), 0, '60 KiB of tail: below the 64 KiB floor')
  room.handle(a, { kind: 'update', update: e.insert(0, chunk) })
  await room.flush()
  assert.equal(store.count('compact'), 1, '80 KiB of tail in 4 rows: compacted')
  // Now a quarter of the ~80 KiB snapshot is below the floor: the floor decides again.
  room.handle(a, { kind: 'update', update: e.insert(0, chunk) })
  await room.flush()
  assert.equal(store.count('compact'), 1)
  const stored = await store.inner.load(NAME)
  assert.equal(stored?.tail, 1)
  assert.equal(textOf(stored!.updates), e.text.toString())
})
