/**
 * Outbox: frames wait in order; a presence change waits in the batch of its latest change, never
 * ahead of frames queued before it; a batch goes out as one frame for everyone and one for each
 * peer that sent part of it (without its own); a client's entry stays while it is present.
 */
import assert from 'node:assert/strict'
import { Outbox, type Frame, type PresenceBatch } from '../src/outbox.js'
import { Presence, decodePresence } from '../src/presence.js'
import * as protocol from '../src/protocol.js'
import type { Peer } from '../src/room.js'
import { awarenessUpdate } from './helpers/hostile.js'
import { test } from './helpers/test.js'

function setup() {
  const presence = new Presence()
  const outbox = new Outbox(presence)
  const batches = (outbox as unknown as { batches: Map<number, PresenceBatch | null> }).batches
  /** Applies `state` for `client` at `clock`, as a room does before it batches the change. */
  const set = (client: number, clock: number, state: unknown) => {
    presence.apply(decodePresence(awarenessUpdate([{ client, clock, json: JSON.stringify(state) }])))
  }
  return { presence, outbox, batches, set }
}

const peer = (id: number): Peer => ({ id, send: () => {} })

/** The client ids an awareness frame carries, with their states (null: removed). */
function states(frame: Uint8Array | undefined): Array<[number, unknown]> {
  assert.ok(frame, 'no frame')
  const message = protocol.decode(frame)
  assert.equal(message.kind, 'awareness')
  return decodePresence((message as { update: Uint8Array }).update).map((e) => [e.client, e.removal ? null : JSON.parse(e.json)])
}

test('1. frames and batches keep their order; a change moves to the batch after the frames queued since', () => {
  const { outbox, set } = setup()
  const a = peer(1)
  set(10, 1, { at: 1 })
  outbox.batchPresence([10], a, null)
  const update: Frame = { frame: new Uint8Array([0, 2, 0]), except: a, n: 1 }
  outbox.push(update)
  // A later state of client 10, which may point into `update`: it must not leave before it.
  set(10, 2, { at: 2 })
  outbox.batchPresence([10], a, null)
  const taken = outbox.take()
  assert.equal(outbox.length, 0)
  assert.equal(taken.length, 3)
  assert.equal(taken[1], update)
  const [first, , second] = taken as [PresenceBatch, Frame, PresenceBatch]
  assert.equal(first.presence.size, 0, 'the first batch lost client 10 to the later one')
  assert.deepEqual([...second.presence.keys()], [10])
  assert.equal(outbox.presenceFrames(first, new Map()), null, 'an emptied batch sends nothing')
})

test('2. a batch goes out as one frame for everyone and one per peer in it, without its own change', () => {
  const { outbox, set } = setup()
  const [a, b, c] = [peer(1), peer(2), peer(3)]
  const peers = new Map<Peer, unknown>([[a, null], [b, null], [c, null]])
  set(10, 1, { name: 'a' })
  set(20, 1, { name: 'b' })
  outbox.batchPresence([10], a, null)
  outbox.batchPresence([20], b, null)
  // A change from another instance (not a local peer) goes to everyone.
  set(30, 1, { name: 'remote' })
  outbox.batchPresence([30], Symbol('remote'), null)
  const [batch] = outbox.take() as [PresenceBatch]
  const frames = outbox.presenceFrames(batch, peers)!
  assert.deepEqual(states(frames.all.frame), [[10, { name: 'a' }], [20, { name: 'b' }], [30, { name: 'remote' }]])
  assert.deepEqual(states(frames.own.get(a)?.frame), [[20, { name: 'b' }], [30, { name: 'remote' }]])
  assert.deepEqual(states(frames.own.get(b)?.frame), [[10, { name: 'a' }], [30, { name: 'remote' }]])
  assert.equal(frames.own.has(c), false, 'c sent nothing: it gets the frame for everyone')
})

test('3. a change that arrived as a message of its own goes out as it came; encoded again once merged', () => {
  const { outbox, set } = setup()
  const a = peer(1)
  // Spacing that encoding the state again would not keep: relayed as it came, the bytes are the
  // client's.
  const sent = awarenessUpdate([{ client: 10, clock: 1, json: '{ "z": 1,  "a": 2 }' }])
  set(10, 1, { z: 1, a: 2 })
  outbox.batchPresence([10], a, sent)
  let [batch] = outbox.take() as [PresenceBatch]
  assert.deepEqual(outbox.presenceFrames(batch, new Map())!.all.frame, protocol.encodeAwareness(sent))

  set(10, 2, { z: 3 })
  outbox.batchPresence([10], a, awarenessUpdate([{ client: 10, clock: 2, json: '{"z":3}' }]))
  set(20, 1, { other: true })
  outbox.batchPresence([20], null, null)
  ;[batch] = outbox.take() as [PresenceBatch]
  assert.deepEqual(states(outbox.presenceFrames(batch, new Map())!.all.frame), [[10, { z: 3 }], [20, { other: true }]])
})

test('4. a present client keeps an empty entry once sent; a client that is gone keeps none; unbatch takes a change out', () => {
  const { outbox, batches, presence, set } = setup()
  set(10, 1, { x: 1 })
  outbox.batchPresence([10], null, null)
  let [batch] = outbox.take() as [PresenceBatch]
  outbox.presenceFrames(batch, new Map())
  assert.deepEqual([...batches], [[10, null]], 'present: an empty entry, not a deleted one')

  set(10, 2, { x: 2 })
  outbox.batchPresence([10], null, null)
  outbox.unbatch([10])
  ;[batch] = outbox.take() as [PresenceBatch]
  assert.equal(batch.presence.size, 0, 'unbatch took the change out of its batch')
  assert.deepEqual([...batches], [[10, null]])

  const removed = presence.remove([10])
  assert.ok(removed)
  outbox.batchPresence([10], null, null)
  ;[batch] = outbox.take() as [PresenceBatch]
  assert.deepEqual(states(outbox.presenceFrames(batch, new Map())!.all.frame), [[10, null]])
  assert.equal(batches.size, 0, 'gone: no entry left')
})

test('5. restore puts a failed commit\'s frames back in front of what came since', () => {
  const { outbox } = setup()
  const f = (n: number): Frame => ({ frame: new Uint8Array([n]), except: null, n })
  outbox.push(f(1))
  outbox.push(f(2))
  const taken = outbox.take()
  outbox.push(f(3))
  outbox.restore(taken)
  assert.deepEqual(outbox.take().map((o) => (o as { n: number }).n), [1, 2, 3])
})
