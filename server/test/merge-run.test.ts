/**
 * mergeRun: a merged run leaves every document that applies it as its parts would, whether the
 * document holds none of it, part of it or edits made meanwhile; without joined text it is the
 * bytes Y.mergeUpdates gives; and it declines (null) the shapes it leaves to Yjs. Over seeded
 * random edits of every kind of content, by writers who see each other's edits late.
 */
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { mergeRun } from '../src/merge-run.js'
import { seededRng, type Rng } from './helpers/random.js'
import { test } from './helpers/test.js'

/** One random edit of `doc`: text, formatting, embeds, map keys, nested types, arrays, bytes. */
function edit(rng: Rng, doc: Y.Doc): void {
  const text = doc.getText('text')
  const map = doc.getMap('map')
  const array = doc.getArray<unknown>('array')
  switch (rng.int(9)) {
    case 0:
    case 1:
    case 2:
      text.insert(rng.int(text.length + 1), rng.word())
      return
    case 3:
      if (text.length > 0) text.delete(rng.int(text.length), 1 + rng.int(Math.min(4, text.length)))
      return
    case 4:
      if (text.length > 0) text.format(rng.int(text.length), 1 + rng.int(3), { bold: rng.int(2) === 0 ? true : null })
      else text.insertEmbed(0, { image: rng.word() })
      return
    case 5:
      map.set(rng.word(2), rng.pick<unknown>([rng.int(1000), rng.word(), [1, 'two', { three: 3 }], new Uint8Array([rng.int(256), 7])]))
      return
    case 6: {
      const nested = new Y.Map<unknown>()
      nested.set('k', rng.word())
      map.set(rng.word(2), nested)
      return
    }
    case 7:
      array.insert(rng.int(array.length + 1), [rng.int(100), rng.word()])
      return
    case 8:
      if (array.length > 0) array.delete(rng.int(array.length), 1)
      else doc.getXmlFragment('xml').insert(0, [new Y.XmlText(rng.word())])
      return
  }
}

/** Everything a document holds, for comparing two that should have converged. */
function state(doc: Y.Doc): unknown {
  return {
    text: doc.getText('text').toDelta(),
    map: doc.getMap('map').toJSON(),
    array: doc.getArray('array').toJSON(),
    xml: doc.getXmlFragment('xml').toString(),
    vector: Array.from(Y.decodeStateVector(Y.encodeStateVector(doc))).sort(([a], [b]) => a - b),
  }
}

function sameDeletions(a: Y.Doc, b: Y.Doc): boolean {
  return Y.equalDeleteSets(Y.createDeleteSetFromStructStore(a.store), Y.createDeleteSetFromStructStore(b.store))
}

/** mergeRun, or Yjs's merge for the runs it declines: what the room does. */
function merged(run: readonly Uint8Array[]): { update: Uint8Array; ours: boolean } {
  if (run.length === 1) return { update: run[0]!, ours: false }
  const ours = mergeRun(run.map((u) => Y.decodeUpdate(u)))
  return ours ? { update: ours, ours: true } : { update: Y.mergeUpdates(run.slice()), ours: false }
}

test('writers who see each other late, through a server that merges runs, converge with a doc that took every update as sent', (t) => {
  const rng = seededRng(t)
  let runs = 0
  let ours = 0
  for (let round = 0; round < 12; round++) {
    const writers = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
    writers.forEach((w, i) => (w.clientID = 10 + i * 1_000_003))
    const outbox = writers.map(() => [] as Uint8Array[])
    const inbox = writers.map(() => [] as Uint8Array[])
    writers.forEach((w, i) => w.on('update', (u: Uint8Array, origin: unknown) => origin !== 'server' && outbox[i]!.push(u)))
    const server = new Y.Doc()
    const reference = new Y.Doc()
    // The server reads a run from one writer's socket, applies it merged and relays it merged.
    const serve = (i: number, n: number) => {
      const run = outbox[i]!.splice(0, n)
      if (run.length === 0) return
      for (const u of run) Y.applyUpdate(reference, u)
      const m = merged(run)
      runs++
      if (m.ours) ours++
      Y.applyUpdate(server, m.update)
      inbox.forEach((box, k) => k !== i && box.push(m.update))
    }
    const receive = (i: number, n: number) => {
      for (const u of inbox[i]!.splice(0, n)) Y.applyUpdate(writers[i]!, u, 'server')
    }
    for (let step = 0; step < 400; step++) {
      const i = rng.int(writers.length)
      const action = rng.int(10)
      if (action < 5) {
        // Typing runs: several characters in a row at one place, as a typist makes them.
        const w = writers[i]!
        if (rng.int(3) === 0) {
          const text = w.getText('text')
          let at = rng.int(text.length + 1)
          for (let k = rng.range(2, 12); k > 0; k--) text.insert(at++, rng.word(1))
        } else if (rng.int(5) === 0) w.transact(() => { for (let k = 0; k < 3; k++) edit(rng, w) })
        else edit(rng, w)
      } else if (action < 8) serve(i, 1 + rng.int(32))
      else receive(i, 1 + rng.int(8))
    }
    // Until nothing is in flight: applying a run can make a writer tidy up formatting, which is
    // an edit of its own.
    while (outbox.some((box) => box.length > 0) || inbox.some((box) => box.length > 0)) {
      writers.forEach((_, i) => serve(i, Infinity))
      writers.forEach((_, i) => receive(i, Infinity))
    }
    const expected = state(reference)
    assert.deepEqual(state(server), expected, `round ${round}: the server`)
    assert.ok(sameDeletions(server, reference), `round ${round}: the server's deletions`)
    writers.forEach((w, i) => {
      assert.deepEqual(state(w), expected, `round ${round}: writer ${i}`)
      assert.ok(sameDeletions(w, reference), `round ${round}: writer ${i}'s deletions`)
    })
  }
  t.diagnostic(`${runs} runs, ${ours} merged by mergeRun`)
  assert.ok(ours > runs / 3, `most runs of two or more are merged here: ${ours} of ${runs}`)
})

test('a document that holds the start of a run takes the rest of it from the merged run', (t) => {
  const rng = seededRng(t)
  for (let round = 0; round < 50; round++) {
    const writer = new Y.Doc()
    const updates: Uint8Array[] = []
    writer.on('update', (u: Uint8Array) => updates.push(u))
    writer.getText('text').insert(0, rng.word())
    const before = updates.length
    let at = rng.int(writer.getText('text').length + 1)
    for (let k = rng.range(3, 20); k > 0; k--) {
      if (rng.int(6) === 0) writer.getText('text').format(0, 1, { bold: true })
      else writer.getText('text').insert(at++, rng.word(1))
    }
    const run = updates.slice(before)
    const ours = mergeRun(run.map((u) => Y.decodeUpdate(u)))
    assert.ok(ours)
    const reader = new Y.Doc()
    for (const u of updates.slice(0, before + rng.int(run.length))) Y.applyUpdate(reader, u)
    Y.applyUpdate(reader, ours)
    assert.deepEqual(state(reader), state(writer))
    assert.ok(sameDeletions(reader, writer))
  }
})

test('text typed in a row is one struct; a run without text to join is the bytes Y.mergeUpdates gives', (t) => {
  const rng = seededRng(t)
  const typist = new Y.Doc()
  const typed: Uint8Array[] = []
  typist.on('update', (u: Uint8Array) => typed.push(u))
  typist.getText('text').insert(0, 'ab')
  typed.length = 0
  for (let k = 0; k < 20; k++) typist.getText('text').insert(1 + k, rng.word(1))
  const joined = mergeRun(typed.map((u) => Y.decodeUpdate(u)))!
  assert.equal(Y.decodeUpdate(joined).structs.length, 1)
  assert.equal(Y.decodeUpdate(Y.mergeUpdates(typed)).structs.length, 20)

  // Maps, arrays and deletions: nothing is joined.
  const writer = new Y.Doc()
  const updates: Uint8Array[] = []
  writer.on('update', (u: Uint8Array) => updates.push(u))
  for (let k = 0; k < 300; k++) {
    if (rng.int(2) === 0) writer.getMap('map').set(rng.word(2), rng.int(100))
    else writer.getArray('array').insert(0, [rng.word()])
    if (rng.int(4) === 0 && writer.getArray('array').length > 0) writer.getArray('array').delete(0, 1)
  }
  for (let start = 0; start + 1 < updates.length; start += 17) {
    const run = updates.slice(start, start + 17)
    assert.deepEqual(mergeRun(run.map((u) => Y.decodeUpdate(u))), Y.mergeUpdates(run))
  }
})

test('one writer typing: the merged run applies to the same document as its updates', (t) => {
  const rng = seededRng(t)
  const writer = new Y.Doc()
  const updates: Uint8Array[] = []
  writer.on('update', (u: Uint8Array) => updates.push(u))
  for (let i = 0; i < 200; i++) edit(rng, writer)
  const reader = new Y.Doc()
  for (let start = 0; start < updates.length; start += 32) {
    const run = updates.slice(start, start + 32)
    Y.applyUpdate(reader, mergeRun(run.map((u) => Y.decodeUpdate(u)))!)
  }
  assert.deepEqual(Y.encodeStateAsUpdate(reader), Y.encodeStateAsUpdate(writer))
  assert.deepEqual(reader.getText('text').toDelta(), writer.getText('text').toDelta())
})

test('a run with a gap, an overlap, structs out of order or a GC struct is left to Yjs', (t) => {
  const rng = seededRng(t)
  const writer = new Y.Doc()
  writer.clientID = 7
  const updates: Uint8Array[] = []
  writer.on('update', (u: Uint8Array) => updates.push(u))
  for (let i = 0; i < 6; i++) writer.getText('text').insert(0, rng.word())
  const decode = (...us: Uint8Array[]) => us.map((u) => Y.decodeUpdate(u))
  const [a, b, c] = updates as [Uint8Array, Uint8Array, Uint8Array]

  assert.ok(mergeRun(decode(a, b, c)), 'the gapless run is taken')
  assert.equal(mergeRun(decode(a, c)), null, 'a gap')
  assert.equal(mergeRun(decode(b, a)), null, 'out of order')
  assert.equal(mergeRun(decode(a, b, b)), null, 'an overlap')

  // A nested type made and replaced in one transaction: its content is a GC struct.
  const scratch = new Y.Doc()
  let collected: Uint8Array | null = null
  scratch.on('update', (u: Uint8Array) => (collected = u))
  scratch.transact(() => {
    const nested = new Y.Map<string>()
    scratch.getMap('map').set('key', nested)
    nested.set('inner', rng.word())
    scratch.getMap('map').set('key', 'replaced')
  })
  assert.ok(collected && Y.decodeUpdate(collected).structs.some((s) => s instanceof Y.GC), 'the fixture holds a GC struct')
  assert.equal(mergeRun(decode(collected)), null, 'a GC struct')

  // Yjs's own merge of a gapped run holds a Skip.
  const skipping = Y.mergeUpdates([a, c])
  assert.ok(Y.decodeUpdate(skipping).structs.some((s) => s instanceof Y.Skip), 'the fixture holds a Skip')
  assert.equal(mergeRun(decode(skipping)), null, 'a Skip struct')
})

test('a run of deletions alone merges its delete sets', () => {
  const writer = new Y.Doc()
  writer.getText('text').insert(0, 'hello world, hello')
  const updates: Uint8Array[] = []
  writer.on('update', (u: Uint8Array) => updates.push(u))
  for (const at of [0, 5, 3, 3, 9]) writer.getText('text').delete(at, 1)
  const ours = mergeRun(updates.map((u) => Y.decodeUpdate(u)))
  assert.deepEqual(ours, Y.mergeUpdates(updates))
  assert.equal(Y.decodeUpdate(ours!).structs.length, 0)
})
