/**
 * The Store contract, written once and run against every backend (store.test.ts). Each case gets
 * a fresh, empty store from `makeStore` and closes it afterwards.
 */
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import type { Store } from '../src/store/store.js'
import { Cleanup } from './helpers/cleanup.js'
import { seededRng } from './helpers/random.js'
import { test, type TestContext } from './helpers/test.js'

/**
 * A fresh store, or null when its backend is unavailable (the factory has then skipped the test);
 * `cleanup` is where the factory registers removal of anything it created.
 */
export type MakeStore = (cleanup: Cleanup, t: TestContext) => Promise<Store | null>

const u = (...values: number[]) => new Uint8Array(values)
const plain = (updates: readonly Uint8Array[]) => updates.map((x) => Array.from(x))

export function storeContract(name: string, makeStore: MakeStore): void {
  const contractCase = (title: string, body: (store: Store, t: TestContext) => Promise<void>) =>
    test(`${name} store: ${title}`, async (t) => {
      const cleanup = new Cleanup(t)
      const store = await makeStore(cleanup, t)
      if (!store) return
      cleanup.add(() => store.close())
      await body(store, t)
    })

  contractCase('1. load of an unknown name is null', async (store) => {
    assert.equal(await store.load('never-written'), null)
    await store.append('other', [u(1)])
    assert.equal(await store.load('never-written'), null)
  })

  contractCase('2. append returns increasing sequence numbers; load reports the last', async (store) => {
    const a = await store.append('doc', [u(1)])
    const b = await store.append('doc', [u(2), u(3)])
    const c = await store.append('doc', [u(4)])
    assert.ok(a > 0, `first seq ${a}`)
    assert.ok(b > a && c > b, `seqs ${a}, ${b}, ${c}`)
    assert.ok(b - a >= 2, 'a batch of two takes two sequence numbers')
    assert.equal((await store.load('doc'))?.seq, c)
  })

  contractCase('2b. the caller\'s belief of the last number: behind overwrites nothing, ahead keeps the order', async (store) => {
    const first = await store.append('doc', [u(1)], 0)
    const second = await store.append('doc', [u(2)], first)
    assert.ok(second > first, `seqs ${first}, ${second}`)
    // Another process appended meanwhile: the belief is behind what is stored.
    const third = await store.append('doc', [u(3), u(4)], first)
    assert.ok(third - second >= 2, `numbered after what is stored: ${second}, then ${third}`)
    // Ahead (never so from a room, but harmless): numbers are skipped, the order is kept.
    const fourth = await store.append('doc', [u(5)], third + 10)
    assert.ok(fourth > third, `seqs ${third}, ${fourth}`)
    const loaded = await store.load('doc')
    assert.deepEqual(plain(loaded?.updates ?? []), [[1], [2], [3], [4], [5]])
    assert.equal(loaded?.seq, fourth)
    assert.equal(await store.append('doc', [u(6)]), fourth + 1, 'without a belief, numbered from the last')
  })

  contractCase('3. load returns the updates in order, with seq and tail', async (store) => {
    await store.append('doc', [u(1), u(2, 2)])
    const seq = await store.append('doc', [u(3, 3, 3)])
    const loaded = await store.load('doc')
    assert.ok(loaded)
    assert.deepEqual(plain(loaded.updates), [[1], [2, 2], [3, 3, 3]])
    assert.equal(loaded.seq, seq)
    assert.equal(loaded.tail, 3)
  })

  contractCase('4. compact replaces the log up to seq with the snapshot; later updates survive', async (store) => {
    await store.append('doc', [u(1)])
    const upTo = await store.append('doc', [u(2)])
    const last = await store.append('doc', [u(3), u(4)])
    await store.compact('doc', u(12), upTo)
    const loaded = await store.load('doc')
    assert.ok(loaded)
    assert.deepEqual(plain(loaded.updates), [[12], [3], [4]])
    assert.equal(loaded.tail, 2)
    assert.equal(loaded.seq, last)
  })

  contractCase('5. compact of the whole log leaves the snapshot alone, and appends continue after it', async (store) => {
    const upTo = await store.append('doc', [u(1), u(2)])
    await store.compact('doc', u(12), upTo)
    const compacted = await store.load('doc')
    assert.deepEqual(compacted && plain(compacted.updates), [[12]])
    assert.equal(compacted?.tail, 0)
    assert.equal(compacted?.seq, upTo)
    const next = await store.append('doc', [u(3)])
    assert.ok(next > upTo, `seq after compaction ${next} must exceed ${upTo}`)
    const loaded = await store.load('doc')
    assert.deepEqual(loaded && plain(loaded.updates), [[12], [3]])
    assert.equal(loaded?.seq, next)
    assert.equal(loaded?.tail, 1)
  })

  contractCase('6. compact with an older or equal upTo is a no-op', async (store) => {
    const first = await store.append('doc', [u(1)])
    const second = await store.append('doc', [u(2)])
    await store.append('doc', [u(3)])
    await store.compact('doc', u(12), second)
    const before = await store.load('doc')
    await store.compact('doc', u(99), first)
    await store.compact('doc', u(98), second)
    assert.deepEqual(await store.load('doc'), before)
    assert.deepEqual(before && plain(before.updates), [[12], [3]])
  })

  contractCase('7. documents are isolated', async (store) => {
    const names = ['doc', 'doc2', 'Doc', 'do', 'doc/sub', 'dôc 😀']
    for (const [i, n] of names.entries()) await store.append(n, [u(i), u(i, i)])
    const upTo = (await store.load('doc'))!.seq
    await store.compact('doc', u(200), upTo)
    await store.append('doc', [u(201)])
    assert.deepEqual(plain((await store.load('doc'))!.updates), [[200], [201]])
    for (const [i, n] of names.entries()) {
      if (n === 'doc') continue
      const loaded = await store.load(n)
      assert.deepEqual(loaded && plain(loaded.updates), [[i], [i, i]], `document ${JSON.stringify(n)}`)
      assert.equal(loaded?.tail, 2)
    }
  })

  contractCase('8. the store keeps its own copy of appended and compacted bytes', async (store) => {
    const update = u(1, 2, 3)
    const snapshot = u(7, 7)
    const upTo = await store.append('doc', [update])
    update[0] = 99
    assert.deepEqual(plain((await store.load('doc'))!.updates), [[1, 2, 3]])
    await store.compact('doc', snapshot, upTo)
    snapshot[0] = 99
    assert.deepEqual(plain((await store.load('doc'))!.updates), [[7, 7]])
  })

  contractCase('9. large and empty updates round-trip byte for byte', async (store, t) => {
    const rng = seededRng(t)
    const big = new Uint8Array(1 << 20)
    for (let i = 0; i < big.length; i++) big[i] = rng.int(256)
    await store.append('doc', [big, u()])
    const loaded = await store.load('doc')
    assert.equal(loaded?.updates.length, 2)
    assert.ok(Buffer.from(loaded!.updates[0]!).equals(Buffer.from(big)), 'the 1 MiB update differs')
    assert.equal(loaded!.updates[1]!.length, 0)
  })

  contractCase('10. Yjs: append, compact, append more; loading gives the same text', async (store, t) => {
    const rng = seededRng(t)
    const doc = new Y.Doc()
    const text = doc.getText('codemirror')
    let batch: Uint8Array[] = []
    doc.on('update', (update: Uint8Array) => batch.push(update))
    let seq = 0
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 20; i++) {
        if (text.length > 0 && rng.float() < 0.3) {
          const at = rng.int(text.length)
          text.delete(at, Math.min(1 + rng.int(4), text.length - at))
        } else {
          text.insert(rng.int(text.length + 1), rng.word())
        }
        if (rng.float() < 0.3) {
          seq = await store.append('doc', batch)
          batch = []
        }
      }
      if (batch.length > 0) seq = await store.append('doc', batch)
      batch = []
      if (round % 2 === 1) await store.compact('doc', Y.encodeStateAsUpdate(doc), seq)
      const loaded = await store.load('doc')
      assert.ok(loaded)
      const copy = new Y.Doc()
      Y.transact(copy, () => {
        for (const update of loaded.updates) Y.applyUpdate(copy, update)
      })
      assert.equal(copy.getText('codemirror').toString(), text.toString(), `after round ${round}`)
      assert.deepEqual(Y.encodeStateVector(copy), Y.encodeStateVector(doc))
      copy.destroy()
    }
    doc.destroy()
  })

  contractCase('12. loadAfter returns what came after a sequence number, the snapshot when it covers more', async (store) => {
    assert.equal(await store.loadAfter('never-written', 0), null)
    const first = await store.append('doc', [u(1), u(2)])
    const second = await store.append('doc', [u(3)])
    const after = await store.loadAfter('doc', first)
    assert.deepEqual(after && plain(after.updates), [[3]])
    assert.equal(after?.seq, second)
    const none = await store.loadAfter('doc', second)
    assert.deepEqual(none && plain(none.updates), [])
    assert.equal(none?.seq, second)
    // Compacted past the point asked for: the snapshot stands in for what was folded away.
    await store.compact('doc', u(123), second)
    const third = await store.append('doc', [u(4)])
    const folded = await store.loadAfter('doc', first)
    assert.deepEqual(folded && plain(folded.updates), [[123], [4]])
    assert.equal(folded?.seq, third)
    const tail = await store.loadAfter('doc', second)
    assert.deepEqual(tail && plain(tail.updates), [[4]])
  })

  contractCase('11. calls after close reject', async (store) => {
    await store.append('doc', [u(1)])
    await store.close()
    await assert.rejects(store.load('doc'))
    await assert.rejects(store.append('doc', [u(2)]))
    await assert.rejects(store.compact('doc', u(3), 1))
    await store.close() // closing twice is harmless
  })
}
