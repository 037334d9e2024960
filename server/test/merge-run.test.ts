/**
 * mergeRun gives the bytes Y.mergeUpdates gives, for every run it takes, and declines (null) the
 * shapes it leaves to Yjs. Compared over seeded random edits of every kind of content.
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

/**
 * Updates as a server receives them: several writers editing at random, each update sent to
 * the others at once or (sometimes) held back and sent late, so runs mix clients.
 */
function history(rng: Rng, edits: number): Uint8Array[] {
  const writers = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
  writers.forEach((w, i) => (w.clientID = 10 + i * 1_000_003))
  const received: Uint8Array[] = []
  for (const w of writers) {
    w.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === 'sync') return
      received.push(update)
      for (const other of writers) if (other !== w) Y.applyUpdate(other, update, 'sync')
    })
  }
  for (let i = 0; i < edits; i++) {
    const w = rng.pick(writers)
    // Sometimes several edits in one transaction: one update with several structs.
    if (rng.int(5) === 0) w.transact(() => { for (let k = 0; k < 3; k++) edit(rng, w) })
    else edit(rng, w)
  }
  return received
}

test('a run of updates in order merges to the bytes Y.mergeUpdates gives, or is left to Yjs', (t) => {
  const rng = seededRng(t)
  let merged = 0
  let declined = 0
  for (let round = 0; round < 20; round++) {
    const updates = history(rng, 300)
    for (let start = 0; start < updates.length; ) {
      // Two or more: Yjs returns a lone update as it came, and so does the room (queueRun).
      const run = updates.slice(start, start + 2 + rng.int(31)).map((u) => ({ bytes: u, decoded: Y.decodeUpdate(u) }))
      start += run.length
      if (run.length < 2) continue
      const ours = mergeRun(run.map((u) => u.decoded))
      // A nested type made and replaced in one transaction leaves a GC struct in its update.
      if (run.some((u) => u.decoded.structs.some((s) => !(s instanceof Y.Item)))) {
        assert.equal(ours, null, `a run with a GC struct (round ${round}) was taken`)
        declined++
      } else {
        assert.ok(ours, `a run of ${run.length} items only (round ${round}) was declined`)
        assert.deepEqual(ours, Y.mergeUpdates(run.map((u) => u.bytes)))
        merged++
      }
    }
  }
  t.diagnostic(`${merged} runs merged, ${declined} left to Yjs`)
  assert.ok(merged > 10 * declined, `most runs are merged here: ${merged} against ${declined}`)
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
