/**
 * Two Room instances of one document over one shared store, as two Tandem instances would hold
 * it, wired by an in-memory link the test controls (helpers/link.ts) instead of Redis. The link
 * may lose, reorder or repeat anything; the store is the truth. Proves that what the link drops
 * is recovered by catch-up, that any delivery order converges, that presence crosses and leaves
 * with its instance, and that compaction never folds away an update a room has not seen.
 */
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import type { Envelope, Fanout } from '../src/fanout/fanout.js'
import { silentLogger } from '../src/log.js'
import { Room, type RoomOptions } from '../src/room.js'
import { Rooms } from '../src/rooms.js'
import { MemoryStore } from '../src/store/memory.js'
import { Cleanup } from './helpers/cleanup.js'
import { FakeNetwork } from './helpers/link.js'
import { Editor, RecordingPeer, textOf } from './helpers/peers.js'
import { seededRng } from './helpers/random.js'
import { InstrumentedStore } from './helpers/stores.js'
import { deferred, turns, waitFor } from './helpers/wait.js'
import { test, type TestContext } from './helpers/test.js'

const NAME = 'shared'

/** A client of one room: the peer the room talks to, and the Yjs document behind it. */
interface Participant {
  readonly peer: RecordingPeer
  readonly editor: Editor
  /** Applies to the editor everything the room has sent it so far. */
  sync(): void
  /** Makes an edit and hands it to the room. */
  type(at: number, content: string): void
}

async function setup(t: TestContext, options: Partial<RoomOptions> = {}) {
  const cleanup = new Cleanup(t)
  const memory = new MemoryStore()
  cleanup.add(() => memory.close())
  const net = new FakeNetwork()
  const open = async (instance: string) => {
    // One wrapper per instance over the same store, so calls can be counted and held per room.
    const store = new InstrumentedStore(memory)
    const room = await Room.load(NAME, store, { compactAfterUpdates: 1000, retryDelayMs: 5, ...options }, silentLogger, net.link(instance))
    net.attach(instance, room)
    cleanup.add(() => room.destroy())
    return { room, store }
  }
  const A = await open('A')
  const B = await open('B')
  let nextClient = 100
  const participant = (room: Room): Participant => {
    const peer = new RecordingPeer()
    const editor = new Editor(nextClient++)
    cleanup.add(() => editor.destroy())
    room.join(peer)
    let applied = 0
    return {
      peer,
      editor,
      sync() {
        for (; applied < peer.frames.length; applied++) {
          const f = peer.frames[applied]!
          if (f.kind === 'update' || f.kind === 'sync-step2') editor.receive(f.update)
        }
      },
      type(at, content) {
        room.handle(peer, { kind: 'update', update: editor.insert(at, content) })
      },
    }
  }
  /** The text a fresh instance would load from the store alone. */
  const storedText = async () => {
    const stored = await memory.load(NAME)
    return stored ? textOf(stored.updates) : ''
  }
  return { cleanup, memory, net, A, B, participant, storedText }
}

test('1. an update committed on A reaches B through the link: relayed to B’s peers at once, not stored again', async (t) => {
  const { net, A, B, participant } = await setup(t)
  const alice = participant(A.room)
  const bob = participant(B.room)
  alice.type(0, 'hello')
  assert.deepEqual(net.inbox('B'), [], 'published before it was stored')
  await A.room.flush()
  assert.equal(net.inbox('B').length, 1)
  const envelope = net.inbox('B')[0]!
  assert.equal(envelope.message.kind, 'updates')
  assert.deepEqual(envelope.message.kind === 'updates' && [envelope.message.first, envelope.message.last], [1, 1])

  net.deliver('B')
  assert.equal(B.room.text(), 'hello')
  bob.sync()
  assert.equal(bob.editor.text.toString(), 'hello', 'B relays a stored update without waiting for a commit')
  await B.room.flush()
  assert.equal(B.store.count('append'), 0, 'B appended what A had already stored')
  assert.deepEqual(net.inbox('A'), [], 'B published A’s update back')
  // Delivered twice (a repeat from the link): nothing happens.
  bob.peer.clear()
  B.room.receive(envelope)
  assert.deepEqual(bob.peer.frames, [])
})

test('2. updates the link dropped are recovered by catchUp, relayed to B’s peers, and not stored again', async (t) => {
  const { net, A, B, participant, storedText } = await setup(t)
  const alice = participant(A.room)
  const bob = participant(B.room)
  for (const word of ['one ', 'two ', 'three ']) {
    alice.type(alice.editor.text.length, word)
    await A.room.flush()
  }
  assert.equal(net.drop('B'), 3)
  assert.equal(B.room.text(), '', 'B cannot know yet')

  await B.room.catchUp()
  assert.equal(B.room.text(), 'one two three ')
  bob.sync()
  assert.equal(bob.editor.text.toString(), 'one two three ')
  await B.room.flush()
  assert.equal(B.store.count('append'), 0)
  assert.equal(await storedText(), 'one two three ')

  // A drop followed by a delivery: the gap in sequence numbers makes B catch up by itself.
  alice.type(alice.editor.text.length, 'four ')
  await A.room.flush()
  net.drop('B')
  alice.type(alice.editor.text.length, 'five')
  await A.room.flush()
  net.deliver('B')
  await waitFor(() => B.room.text() === 'one two three four five', { message: () => `B holds ${JSON.stringify(B.room.text())}` })
  assert.ok(B.store.count('loadAfter') >= 2, 'the gap was filled from the store')
})

test('3. out-of-order delivery converges with no help from the store', async (t) => {
  const { net, A, B, participant } = await setup(t)
  const alice = participant(A.room)
  const bob = participant(B.room)
  // B's catch-ups never finish during this test: only the link can bring A's updates.
  const never = deferred()
  B.store.before.loadAfter = () => never.promise
  t.after(() => never.resolve())
  for (let i = 0; i < 6; i++) {
    alice.type(alice.editor.text.length, `${i}`)
    await A.room.flush()
  }
  const waiting = net.inbox('B').splice(0)
  assert.equal(waiting.length, 6)
  for (const envelope of [waiting[3], waiting[5], waiting[1], waiting[4], waiting[0], waiting[2]]) B.room.receive(envelope!)
  assert.equal(B.room.text(), '012345')
  await B.room.flush()
  bob.sync()
  assert.equal(bob.editor.text.toString(), '012345')
})

test('4. a gap noticed while a catch-up is in flight is caught up too', async (t) => {
  const { net, A, B, participant } = await setup(t)
  const alice = participant(A.room)
  alice.type(0, 'a')
  await A.room.flush()
  net.deliver('B')

  // B starts a catch-up; the store answers it now, but the answer arrives later.
  const answer = deferred()
  B.store.after.loadAfter = () => answer.promise
  const first = B.room.catchUp()
  await waitFor(() => B.store.count('loadAfter') === 1, { message: 'no catch-up read' })
  await turns(3)

  // Meanwhile A stores x (lost by the link) and then y, which B receives: a gap at x.
  alice.type(1, 'x')
  await A.room.flush()
  net.drop('B')
  alice.type(2, 'y')
  await A.room.flush()
  net.deliver('B')

  delete B.store.after.loadAfter
  answer.resolve()
  await first
  // The read in flight was taken before x existed; only a new one can bring it.
  await waitFor(() => B.room.text() === 'axy', {
    timeoutMs: 2000,
    message: () => `B holds ${JSON.stringify(B.room.text())} after ${B.store.count('loadAfter')} catch-up reads`,
  })
})

test('5. compaction folds only what the room knows: another instance’s unseen update stays in the log', async (t) => {
  const { net, A, B, participant, storedText } = await setup(t, { compactAfterUpdates: 4 })
  const alice = participant(A.room)
  const bob = participant(B.room)
  alice.type(0, 'A1 ')
  await A.room.flush()
  alice.type(alice.editor.text.length, 'A2 ')
  await A.room.flush() // seq 1, 2
  net.deliver('B')
  bob.sync()
  bob.type(bob.editor.text.length, 'B3 ')
  await B.room.flush() // seq 3, which A never hears of
  assert.equal(net.drop('A'), 1)
  alice.type(alice.editor.text.length, 'A4 ')
  await A.room.flush() // seq 4
  alice.type(alice.editor.text.length, 'A5 ')
  await A.room.flush() // seq 5: A's fourth append, so A compacts

  const compactions = A.store.calls.filter((c) => c.method === 'compact')
  assert.equal(compactions.length, 1, 'A compacted')
  assert.equal(compactions[0]!.upTo, 2, 'A may fold 1..2 only: it has not seen 3')
  const expected = textOf([Y.encodeStateAsUpdate(A.room.doc), Y.encodeStateAsUpdate(B.room.doc)])
  assert.equal(await storedText(), expected, 'the store alone holds both rooms’ edits')
  assert.ok(expected.includes('B3') && expected.includes('A5'))

  net.deliver('B')
  await A.room.catchUp()
  assert.equal(A.room.text(), B.room.text())
  assert.equal(await storedText(), A.room.text())
})

test('6. presence crosses instances, leaves with its peer, and dropInstance removes what an instance relayed', async (t) => {
  const { net, A, B, cleanup } = await setup(t)
  const onA = new RecordingPeer()
  const onB = new RecordingPeer()
  A.room.join(onA)
  B.room.join(onB)
  const clientDoc = new Y.Doc()
  clientDoc.clientID = 1001
  const ada = new awarenessProtocol.Awareness(clientDoc)
  const seenOnB = new awarenessProtocol.Awareness(new Y.Doc())
  cleanup.add(() => {
    ada.destroy()
    seenOnB.destroy()
    clientDoc.destroy()
  })
  // What B's peer has been sent by the end of the turn (presence leaves with the turn's commit).
  const show = async () => {
    await B.room.flush()
    for (const f of onB.of('awareness')) awarenessProtocol.applyAwarenessUpdate(seenOnB, f.update, 'server')
    onB.clear()
  }
  const announce = (room: Room, peer: RecordingPeer) =>
    room.handle(peer, { kind: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(ada, [1001]) })

  ada.setLocalState({ user: { name: 'Ada' } })
  announce(A.room, onA)
  assert.equal(net.inbox('B').length, 1, 'presence is published at once, not after a commit')
  net.deliver('B')
  await show()
  assert.deepEqual(seenOnB.getStates().get(1001), { user: { name: 'Ada' } })
  assert.deepEqual(JSON.parse(B.room.presence.state(1001) ?? 'null'), { user: { name: 'Ada' } })
  assert.deepEqual(net.inbox('A'), [], 'B published remote presence back')

  // The peer leaves A (socket closed, however it closed): the removal crosses too.
  A.room.leave(onA)
  net.deliver('B')
  await show()
  assert.equal(seenOnB.getStates().has(1001), false)
  assert.equal(B.room.presence.has(1001), false)

  // Back on A; then A dies: dropping another instance changes nothing, dropping A removes Ada.
  const again = new RecordingPeer()
  A.room.join(again)
  ada.setLocalStateField('user', { name: 'Ada', cursor: 3 })
  announce(A.room, again)
  net.deliver('B')
  await show()
  assert.ok(seenOnB.getStates().has(1001))
  B.room.dropInstance('C')
  assert.ok(B.room.presence.has(1001), 'dropped for an instance that did not relay it')
  B.room.dropInstance('A')
  await show()
  assert.equal(B.room.presence.has(1001), false)
  assert.equal(seenOnB.getStates().has(1001), false, 'B’s peers were told at once')
  assert.deepEqual(net.inbox('A'), [], 'B published the removal of A’s presence')

  // A client that moved to B (reconnected through the balancer) is B's own now: A's death
  // must not remove it.
  ada.setLocalStateField('user', { name: 'Ada', cursor: 4 })
  announce(A.room, again)
  net.deliver('B')
  const direct = new RecordingPeer()
  B.room.join(direct)
  ada.setLocalStateField('user', { name: 'Ada', cursor: 5 })
  announce(B.room, direct)
  B.room.dropInstance('A')
  assert.deepEqual(JSON.parse(B.room.presence.state(1001) ?? 'null'), { user: { name: 'Ada', cursor: 5 } })
})

test('7. seeded random: two instances, lossy and reordering link, compaction, catch-ups: all converge and the store holds it all', async (t) => {
  const rng = seededRng(t)
  const { net, A, B, participant, storedText } = await setup(t, { compactAfterUpdates: 5 })
  const instances = [
    { id: 'A', ...A },
    { id: 'B', ...B },
  ]
  const people = instances.flatMap((instance) => [0, 1].map(() => ({ instance, who: participant(instance.room) })))
  for (let step = 0; step < 600; step++) {
    const r = rng.float()
    const { instance, who } = rng.pick(people)
    if (r < 0.45) {
      const length = who.editor.text.length
      const at = rng.int(length + 1)
      const update =
        at < length && rng.float() < 0.3
          ? who.editor.delete(at, 1 + rng.int(Math.min(3, length - at)))
          : who.editor.insert(at, rng.word(3))
      instance.room.handle(who.peer, { kind: 'update', update })
    } else if (r < 0.65) {
      who.sync()
    } else if (r < 0.85) {
      net.shuffleStep(instance.id, rng, 0.25)
    } else if (r < 0.9) {
      void instance.room.catchUp()
    } else {
      await turns(1 + rng.int(3))
    }
  }
  // Whatever the link still holds is lost; catch-up must bring it.
  for (const { id } of instances) net.drop(id)
  for (const { room } of instances) await room.flush()
  for (const { room } of instances) await room.catchUp()
  for (const { id } of instances) net.drop(id)
  for (const { room } of instances) await room.flush()
  await waitFor(() => A.room.text() === B.room.text(), { timeoutMs: 2000, message: 'rooms differ' })
  for (const { who } of people) who.sync()
  const text = A.room.text()
  for (const { instance, who } of people) assert.equal(who.editor.text.toString(), text, `a participant on ${instance.id}`)
  assert.equal(await storedText(), text, 'the store alone')
  const compactions = A.store.count('compact') + B.store.count('compact')
  t.diagnostic(`final text ${text.length} chars; ${compactions} compactions; appends A ${A.store.count('append')}, B ${B.store.count('append')}`)
  assert.ok(compactions > 0, 'compaction ran during the run')
})

/** A Fanout whose subscriptions come up when the test says so, for the registry's ordering. */
class GatedFanout implements Fanout {
  readonly instanceId = 'B'
  readonly subscribed = deferred()
  private handler: ((envelope: Envelope) => void) | null = null
  subscribe(_name: string, handler: (envelope: Envelope) => void): Promise<void> {
    return this.subscribed.promise.then(() => {
      this.handler = handler
    })
  }
  async unsubscribe(): Promise<void> {
    this.handler = null
  }
  publish(): void {}
  onResume(): void {}
  onInstanceGone(): void {}
  status() {
    return { connected: true, lagMs: null }
  }
  async close(): Promise<void> {}
  /** Delivers a message, if the subscription is up (Redis drops what nobody listens to). */
  deliver(envelope: Envelope): void {
    this.handler?.(envelope)
  }
}

test('8. a subscription that comes up while the room loads is followed by a catch-up after the load', async (t) => {
  const cleanup = new Cleanup(t)
  const memory = new MemoryStore()
  cleanup.add(() => memory.close())
  const store = new InstrumentedStore(memory)
  const fanout = new GatedFanout()
  const rooms = new Rooms(store, { idleMs: 60_000, compactAfterUpdates: 1000, retryDelayMs: 5, catchUpMs: null }, silentLogger, fanout)
  cleanup.add(() => rooms.closeAll())
  const other = new Editor(7)
  cleanup.add(() => other.destroy())
  await memory.append(NAME, [other.insert(0, 'before ')])

  // The load reads the store now, but its answer arrives only after the subscription is up.
  const answer = deferred()
  store.after.load = () => answer.promise
  const acquiring = rooms.acquire(NAME)
  await waitFor(() => store.count('load') === 1, { message: 'no load' })
  await turns(3)
  // Another instance stores an update and publishes it: nobody is subscribed yet, it is lost.
  const update = other.insert(7, 'between')
  const seq = await memory.append(NAME, [update])
  fanout.deliver({ from: 'A', sentAt: Date.now(), message: { kind: 'updates', first: seq, last: seq, updates: [update] } })
  fanout.subscribed.resolve()
  await turns(3)
  answer.resolve()
  const room = await acquiring
  await waitFor(() => room.text() === 'before between', {
    timeoutMs: 2000,
    message: () => `the room holds ${JSON.stringify(room.text())}: what was published before its subscription was lost`,
  })
  rooms.release(room)
})
