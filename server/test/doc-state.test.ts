/**
 * DocState: a document held encoded answers joins, syncs and reads exactly as a Y.Doc would,
 * without building one, until an update adds something; then it holds the same content as a
 * Y.Doc. Compared against a Y.Doc that applied the same updates, over seeded random edits.
 */
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { DocState } from '../src/doc-state.js'
import { TEXT_NAME } from '../src/room.js'
import { seededRng, type Rng } from './helpers/random.js'
import { test } from './helpers/test.js'

/** Two writers editing at random; every update in order, and the doc that applied them all. */
function history(rng: Rng, edits: number): { updates: Uint8Array[]; reference: Y.Doc } {
  const reference = new Y.Doc()
  const updates: Uint8Array[] = []
  const writers = [new Y.Doc(), new Y.Doc()]
  writers.forEach((w, i) => {
    w.clientID = 100 + i
    w.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === 'sync') return
      updates.push(update)
      Y.applyUpdate(reference, update)
      for (const other of writers) if (other !== w) Y.applyUpdate(other, update, 'sync')
    })
  })
  for (let i = 0; i < edits; i++) {
    const text = rng.pick(writers).getText(TEXT_NAME)
    if (text.length > 0 && rng.int(3) === 0) text.delete(rng.int(text.length), 1 + rng.int(Math.min(5, text.length)))
    else text.insert(rng.int(text.length + 1), rng.word())
  }
  return { updates, reference }
}

const vectorOf = (stateVector: Uint8Array) => Y.decodeStateVector(stateVector)
const textOf = (...updates: Uint8Array[]) => {
  const doc = new Y.Doc()
  for (const update of updates) Y.applyUpdate(doc, update)
  return doc.getText(TEXT_NAME).toString()
}

test('1. a new document: empty state vector, empty text, and an empty update holds nothing new', () => {
  const state = new DocState([])
  assert.deepEqual(vectorOf(state.stateVector()), new Map())
  assert.equal(state.text(TEXT_NAME), '')
  assert.equal(textOf(state.diff(Y.encodeStateVector(new Y.Doc()))), '')
  const empty = Y.encodeStateAsUpdate(new Y.Doc())
  assert.ok(state.holds(Y.decodeUpdate(empty), empty))
  assert.equal(state.live, null)
})

test('2. snapshot and tail: state vector, diffs and text equal a Y.Doc’s, and no Y.Doc is built', (t) => {
  const rng = seededRng(t)
  for (let round = 0; round < 10; round++) {
    const { updates, reference } = history(rng, 200)
    // As a store hands it over: a snapshot of a prefix, then the updates after it.
    const cut = rng.int(updates.length + 1)
    const stored = cut === 0 ? updates : [Y.mergeUpdates(updates.slice(0, cut)), ...updates.slice(cut)]
    const state = new DocState(stored)
    const expected = reference.getText(TEXT_NAME).toString()
    assert.deepEqual(vectorOf(state.stateVector()), vectorOf(Y.encodeStateVector(reference)))
    assert.equal(state.text(TEXT_NAME), expected)
    // A client holding some prefix of the history gets what completes it.
    const client = new Y.Doc()
    for (const update of updates.slice(0, rng.int(updates.length + 1))) Y.applyUpdate(client, update)
    Y.applyUpdate(client, state.diff(Y.encodeStateVector(client)))
    assert.equal(client.getText(TEXT_NAME).toString(), expected)
    assert.equal(textOf(state.diff(Y.encodeStateVector(new Y.Doc()))), expected)
    assert.equal(state.live, null, 'reading built a Y.Doc')
  }
})

test('3. holds: what an up-to-date client sends; not new text, not new deletions', (t) => {
  const rng = seededRng(t)
  const { updates, reference } = history(rng, 100)
  const state = new DocState([Y.mergeUpdates(updates)])
  const serverVector = state.stateVector()
  // A client with a cached copy answers sync step 2 with nothing new but its whole delete set.
  const upToDate = Y.encodeStateAsUpdate(reference, serverVector)
  assert.ok(Y.decodeUpdate(upToDate).ds.clients.size > 0, 'the history deletes something')
  assert.ok(state.holds(Y.decodeUpdate(upToDate), upToDate))

  const client = new Y.Doc()
  Y.applyUpdate(client, Y.encodeStateAsUpdate(reference))
  const captured: Uint8Array[] = []
  client.on('update', (update: Uint8Array) => captured.push(update))
  client.getText(TEXT_NAME).delete(0, 1)
  client.getText(TEXT_NAME).insert(0, 'new')
  const [deletion, insertion] = captured as [Uint8Array, Uint8Array]
  assert.equal(state.holds(Y.decodeUpdate(deletion), deletion), false, 'a new deletion')
  assert.equal(state.holds(Y.decodeUpdate(insertion), insertion), false, 'new text')
  assert.equal(state.live, null)
})

test('4. build: the Y.Doc holds the same content, and answers from then on', (t) => {
  const rng = seededRng(t)
  const { updates, reference } = history(rng, 150)
  const state = new DocState([Y.mergeUpdates(updates.slice(0, 100)), ...updates.slice(100)])
  const doc = state.build()
  assert.equal(state.live, doc)
  assert.equal(state.build(), doc, 'built once')
  assert.equal(doc.getText(TEXT_NAME).toString(), reference.getText(TEXT_NAME).toString())
  assert.deepEqual(vectorOf(state.stateVector()), vectorOf(Y.encodeStateVector(reference)))
  doc.getText(TEXT_NAME).insert(0, 'more ')
  assert.equal(state.text(TEXT_NAME), doc.getText(TEXT_NAME).toString())
  assert.equal(textOf(state.diff(Y.encodeStateVector(new Y.Doc()))), doc.getText(TEXT_NAME).toString())
  // With a Y.Doc only an empty update is judged here; Yjs makes the rest a no-op.
  const deletes = Y.encodeStateAsUpdate(reference, Y.encodeStateVector(doc))
  assert.equal(state.holds(Y.decodeUpdate(deletes), deletes), false)
  const empty = Y.encodeStateAsUpdate(new Y.Doc())
  assert.ok(state.holds(Y.decodeUpdate(empty), empty))
  state.destroy()
})

test('5. stored content Yjs cannot read fails at load, not at a later join', () => {
  assert.throws(() => new DocState([new Uint8Array([1, 200, 7])]))
})
