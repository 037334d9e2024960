/**
 * presence.ts keeps y-protocols' awareness rules with the states as JSON text. The model it must
 * match is y-protocols' own `Awareness`, run beside it on the same seeded messages.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { TandemError } from '../src/errors.js'
import { decodePresence, Presence, type PresenceChange } from '../src/presence.js'
import { awarenessUpdate } from './helpers/hostile.js'
import { seededRng } from './helpers/random.js'

/** An awareness update as a client may write it: any JSON text, spaces and all. */
const said = (...states: Array<[client: number, clock: number, json: string]>): Uint8Array =>
  awarenessUpdate(states.map(([client, clock, json]) => ({ client, clock, json })))

/** A server's y-protocols Awareness: no state of its own, and its 'update' events recorded. */
function model() {
  const doc = new Y.Doc()
  doc.clientID = 0
  const awareness = new awarenessProtocol.Awareness(doc)
  awareness.setLocalState(null)
  const events: PresenceChange[] = []
  const changes: PresenceChange[] = []
  awareness.on('update', (change: PresenceChange) => events.push(change))
  awareness.on('change', (change: PresenceChange) => changes.push(change))
  return { awareness, events, changes }
}

/** The states an Awareness holds, other than its own (null). */
function statesOf(awareness: awarenessProtocol.Awareness): Record<number, unknown> {
  return Object.fromEntries([...awareness.getStates()].filter(([id]) => id !== awareness.clientID))
}

function parsedStates(presence: Presence): Record<number, unknown> {
  return Object.fromEntries(presence.clients().map((id) => [id, JSON.parse(presence.state(id)!)]))
}

test('1. seeded random: the same changes, states and clocks as y-protocols, and an encoding it reads back the same', (t) => {
  const rng = seededRng(t)
  const { awareness, events, changes } = model()
  t.after(() => awareness.destroy())
  const presence = new Presence()
  const clients = [1, 2, 3, 4, 5]
  const json = () => rng.pick(['null', ' null', '{}', '{"n":1}', '{ "n": 1 }', '{"n":2,"cursor":{"at":3}}', '7', '"x"'])
  for (let step = 0; step < 2000; step++) {
    events.length = 0
    changes.length = 0
    const before = new Map(clients.map((id) => [id, presence.state(id)]))
    let change: PresenceChange | null
    if (rng.int(10) === 0) {
      const ids = clients.filter(() => rng.int(2) === 0)
      awarenessProtocol.removeAwarenessStates(awareness, ids, 'test')
      change = presence.remove(ids)
    } else {
      const entries = Array.from({ length: 1 + rng.int(3) }, (): [number, number, string] => {
        const client = rng.pick(clients)
        return [client, Math.max(0, presence.clock(client) + rng.range(-1, 2)), json()]
      })
      const update = said(...entries)
      awarenessProtocol.applyAwarenessUpdate(awareness, update, 'test')
      const decoded = decodePresence(update, presence)
      assert.deepEqual(decoded, decodePresence(update), `step ${step}: decoded against what is held, the same entries`)
      change = presence.apply(decoded)
    }
    const at = `step ${step}`
    const renewed = change?.renewed ?? []
    const reported = change && { added: change.added, updated: change.updated, removed: change.removed }
    assert.deepEqual(reported, events[0] ?? null, `${at}: the change`)
    // A renewal is one that y-protocols reports in 'update' and not in 'change' (the same state
    // again), and every such one whose text is the same is a renewal.
    const changedThere = changes[0]?.updated ?? []
    for (const id of renewed) {
      assert.ok(change!.updated.includes(id) && !changedThere.includes(id), `${at}: ${id} renewed, but y-protocols says it changed`)
    }
    // (A client twice in one update may change its text and change it back: a change, safely.)
    const updated = change?.updated ?? []
    for (const id of updated) {
      if (changedThere.includes(id) || before.get(id) !== presence.state(id) || updated.indexOf(id) !== updated.lastIndexOf(id)) continue
      assert.ok(renewed.includes(id), `${at}: ${id} came again the same and is not renewed`)
    }
    assert.equal(new Set(renewed).size, renewed.length, `${at}: renewed twice`)
    assert.deepEqual(parsedStates(presence), statesOf(awareness), `${at}: the states`)
    assert.equal(presence.size, Object.keys(statesOf(awareness)).length, `${at}: the count`)
    for (const id of clients) assert.equal(presence.clock(id), awareness.meta.get(id)?.clock ?? 0, `${at}: the clock of ${id}`)
  }
  // What a joiner is sent, read by a stock client, is what y-protocols would have sent.
  const joiner = model()
  const stock = model()
  t.after(() => joiner.awareness.destroy())
  t.after(() => stock.awareness.destroy())
  assert.deepEqual(Array.from(presence.encodeAll()), Array.from(presence.encode(presence.clients())), 'everyone, as encode() writes them')
  awarenessProtocol.applyAwarenessUpdate(joiner.awareness, presence.encode(clients), 'server')
  awarenessProtocol.applyAwarenessUpdate(stock.awareness, awarenessProtocol.encodeAwarenessUpdate(awareness, clients), 'server')
  assert.deepEqual(statesOf(joiner.awareness), statesOf(stock.awareness))
  for (const id of clients) assert.equal(joiner.awareness.meta.get(id)?.clock, stock.awareness.meta.get(id)?.clock)
})

test('2. a state is kept as the text that came, and a removal keeps its clock', () => {
  const presence = new Presence()
  assert.deepEqual(presence.apply(decodePresence(said([7, 1, '{ "cursor": 1 }']))), { added: [7], updated: [], removed: [], renewed: [] })
  assert.equal(presence.state(7), '{ "cursor": 1 }')
  assert.equal(presence.apply(decodePresence(said([7, 1, '{"cursor":2}']))), null, 'the same clock again is ignored')
  assert.deepEqual(presence.remove([7, 8]), { added: [], updated: [], removed: [7], renewed: [] }, 'only a present client is removed')
  assert.equal(presence.has(7), false)
  assert.equal(presence.size, 0)
  // The removal goes out with the clock of the state it removes, which stock clients apply.
  assert.deepEqual(Array.from(presence.encode([7])), Array.from(said([7, 1, 'null'])))
  assert.equal(presence.apply(decodePresence(said([7, 1, '{"late":true}']))), null, 'an older state cannot come back')
  assert.deepEqual(presence.apply(decodePresence(said([7, 2, '{}']))), { added: [], updated: [7], removed: [], renewed: [] })
  assert.deepEqual(presence.apply(decodePresence(said([7, 3, '{}']))), { added: [], updated: [7], removed: [], renewed: [7] }, 'the same text again is a renewal')
  assert.deepEqual(
    presence.apply(decodePresence(said([7, 4, '{}'], [7, 5, '{"x":1}']))),
    { added: [], updated: [7, 7], removed: [], renewed: [] },
    'renewed, then changed in the same update: a change',
  )
  assert.deepEqual(
    presence.apply(decodePresence(said([7, 6, '{"y":1}'], [7, 7, '{"y":1}']))),
    { added: [], updated: [7, 7], removed: [], renewed: [] },
    'changed, then renewed in the same update: a change',
  )
})

test('3. a malformed update is refused whole, with MALFORMED_MESSAGE and the reason', () => {
  const refused = (update: Uint8Array, reason: RegExp) =>
    assert.throws(
      () => decodePresence(update),
      (err: unknown) => err instanceof TandemError && err.code === 'MALFORMED_MESSAGE' && reason.test(err.message),
    )
  refused(said([1, 1, '{}']).subarray(0, 3), /could not be decoded/)
  refused(Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 0x7b, 0x7d), /past 2\^53|could not be decoded/)
  refused(said([1, 1, '{}'], [2, 1, '{nope']), /not JSON/)
  assert.deepEqual(
    decodePresence(said([1, 1, ' null '], [2, 3, '{}'])).map((e) => e.removal),
    [true, false],
    'JSON null with spaces is a removal, as y-protocols parses it',
  )
})

test('4. a state not renewed within the timeout is outdated; a renewed one is not', () => {
  let now = 1_000_000
  const presence = new Presence(() => now)
  presence.apply(decodePresence(said([1, 1, '{}'], [2, 1, '{}'])))
  now += 20_000
  presence.apply(decodePresence(said([2, 2, '{}'])))
  now += 10_000
  assert.deepEqual(presence.outdated(30_000), [1])
  presence.remove([1])
  assert.deepEqual(presence.outdated(30_000), [], 'a removed client is not outdated again')
  now += 20_000
  assert.deepEqual(presence.outdated(30_000), [2])
})

test('5. a client that left is remembered (its clock refuses older states) until forgotten after the timeout', () => {
  let now = 1_000_000
  const presence = new Presence(() => now)
  presence.apply(decodePresence(said([1, 3, '{}'], [2, 1, '{}'])))
  now += 40_000
  presence.remove([1])
  presence.forget(30_000)
  assert.equal(presence.clock(1), 3, 'forgotten as soon as it left')
  assert.equal(presence.apply(decodePresence(said([1, 2, '{}']))), null, 'an older state came back')
  now += 29_000
  presence.forget(30_000)
  assert.equal(presence.clock(1), 3, 'forgotten before the timeout')
  now += 1_000
  presence.forget(30_000)
  assert.equal(presence.clock(1), 0, 'a client gone for the timeout is still remembered')
  assert.ok(presence.has(2), 'a present client was forgotten')
  assert.equal(presence.clock(2), 1)
})

test('6. a state that comes as the text already held is not parsed again; any other text is', (t) => {
  const presence = new Presence()
  const cursor = '{"user":{"name":"Ada"},"cursor":{"anchor":3,"head":3}}'
  presence.apply(decodePresence(said([1, 1, cursor], [2, 1, '{}'])))
  const parse = t.mock.method(JSON, 'parse')
  const parses = (update: Uint8Array, held?: Presence) => {
    const before = parse.mock.callCount()
    const entries = decodePresence(update, held)
    return { parsed: parse.mock.callCount() - before, entries }
  }
  // What a stock y-websocket client sends back after applying the state it was relayed.
  const echo = parses(said([1, 1, cursor]), presence)
  assert.equal(echo.parsed, 0, 'an echo of the held state was parsed again')
  assert.equal(presence.apply(echo.entries), null)
  const renewal = parses(said([1, 2, cursor], [2, 2, '{}']), presence)
  assert.equal(renewal.parsed, 0, 'a renewal was parsed again')
  assert.deepEqual(presence.apply(renewal.entries)?.renewed, [1, 2])
  assert.equal(parses(said([1, 3, '{"cursor":{"anchor":4,"head":4}}']), presence).parsed, 1, 'a new state is parsed')
  assert.equal(parses(said([9, 1, cursor]), presence).parsed, 1, "another client's state with the same text is parsed")
  assert.equal(parses(said([1, 3, cursor])).parsed, 1, 'without what is held, every state is parsed')
  assert.throws(() => decodePresence(said([1, 3, cursor.slice(0, -1)]), presence), /not JSON/, 'a broken text of a held client passed')
  assert.deepEqual(
    [parses(said([1, 3, 'null']), presence).entries[0]?.removal, parses(said([1, 3, ' null ']), presence).entries[0]?.removal],
    [true, true],
    "a held client's removal is still one",
  )
})
