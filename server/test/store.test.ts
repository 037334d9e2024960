/** The Store contract against every backend, plus what only a file-backed store can promise. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { MemoryStore } from '../src/store/memory.js'
import { SqliteStore } from '../src/store/sqlite.js'
import { PostgresStore } from '../src/store/postgres.js'
import { Cleanup } from './helpers/cleanup.js'
import { refuseRowsOf } from './helpers/sqlite.js'
import { dropSchema, needs, POSTGRES_URL, uniqueSchema } from './helpers/services.js'
import { test } from './helpers/test.js'
import { waitFor } from './helpers/wait.js'
import { storeContract } from './store-contract.js'

storeContract('memory', async () => new MemoryStore())
storeContract('sqlite', async (cleanup) => SqliteStore.open(cleanup.tempDir(), { synchronous: 'normal' }))
storeContract('sqlite (synchronous=full)', async (cleanup) => SqliteStore.open(cleanup.tempDir(), { synchronous: 'full' }))
storeContract('postgres', async (cleanup, t) => {
  if (!(await needs(t, ['postgres']))) return null
  const schema = uniqueSchema()
  cleanup.add(() => dropSchema(schema))
  return PostgresStore.open({ connectionString: POSTGRES_URL, schema, maxConnections: 4 })
})

const u = (...values: number[]) => new Uint8Array(values)

test('sqlite store: survives close and reopen, log and snapshot alike', async (t) => {
  const cleanup = new Cleanup(t)
  const dir = cleanup.tempDir()
  const first = SqliteStore.open(dir, { synchronous: 'normal' })
  await first.append('a', [u(1), u(2)])
  const upTo = await first.append('b', [u(3)])
  await first.compact('b', u(33), upTo)
  const last = await first.append('b', [u(4)])
  await first.close()

  const second = SqliteStore.open(dir, { synchronous: 'normal' })
  cleanup.add(() => second.close())
  const a = await second.load('a')
  assert.deepEqual(a && a.updates.map((x) => Array.from(x)), [[1], [2]])
  const b = await second.load('b')
  assert.deepEqual(b && b.updates.map((x) => Array.from(x)), [[33], [4]])
  assert.equal(b?.seq, last)
  assert.equal(b?.tail, 1)
  assert.ok((await second.append('b', [u(5)])) > last, 'sequence numbers continue after reopen')
})

test('sqlite store: creates its folder and uses WAL', async (t) => {
  const cleanup = new Cleanup(t)
  const dir = path.join(cleanup.tempDir(), 'nested', 'data')
  const store = SqliteStore.open(dir, { synchronous: 'normal' })
  await store.append('doc', [u(1)])
  await store.close()
  const db = new Database(path.join(dir, 'tandem.sqlite'), { readonly: true, fileMustExist: true })
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
    assert.deepEqual(db.prepare('SELECT doc, seq FROM updates').all(), [{ doc: 'doc', seq: 1 }])
  } finally {
    db.close()
  }
})

test('sqlite store: compaction gives the freed pages back; the file does not keep its largest size', async (t) => {
  const cleanup = new Cleanup(t)
  const dir = cleanup.tempDir()
  const store = SqliteStore.open(dir, { synchronous: 'normal' })
  const file = path.join(dir, 'tandem.sqlite')
  // 4 MB of log, then a snapshot of 4 KB standing for all of it.
  let upTo = 0
  for (let i = 0; i < 40; i++) upTo = await store.append('doc', Array.from({ length: 100 }, () => new Uint8Array(1000).fill(i)))
  await store.compact('doc', new Uint8Array(4096).fill(7), upTo)
  await store.close()
  const size = fs.statSync(file).size
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    assert.equal(db.pragma('auto_vacuum', { simple: true }), 2, 'incremental auto-vacuum')
    assert.equal(db.pragma('freelist_count', { simple: true }), 0, 'free pages left in the file')
  } finally {
    db.close()
  }
  assert.ok(size < 100 * 1024, `${size} bytes on disk after compacting 4 MB into 4 KB`)
})

test('sqlite store: appends in one group commit together, and settle only once it has committed', async (t) => {
  const cleanup = new Cleanup(t)
  const dir = cleanup.tempDir()
  const store = SqliteStore.open(dir, { synchronous: 'normal' })
  cleanup.add(() => store.close())
  await store.append('a', [u(1)])
  refuseRowsOf(path.join(dir, 'tandem.sqlite'), 'bad')

  // One append of the group fails by itself: the others commit, and it alone rejects. `b` and
  // the second bad one come with their numbers: one statement each, no savepoint of their own.
  const settled: string[] = []
  let a!: Promise<number>, b!: Promise<number>, bad!: Promise<number>, badOne!: Promise<number>
  store.group(() => {
    a = store.append('a', [u(2), u(3)])
    bad = store.append('bad', [u(9)])
    badOne = store.append('bad', [u(10)], 0)
    b = store.append('b', [u(4)], 0)
    const all = [['a', a], ['b', b], ['bad', bad], ['badOne', badOne]] as const
    for (const [name, p] of all) p.then(() => settled.push(name), () => settled.push(`${name} failed`))
  })
  assert.deepEqual(await a, 3)
  assert.deepEqual(await b, 1)
  await assert.rejects(bad, /refused by the test/)
  await assert.rejects(badOne, /refused by the test/)
  assert.deepEqual(settled.sort(), ['a', 'b', 'bad failed', 'badOne failed'])
  assert.deepEqual((await store.load('a'))?.updates.map((x) => Array.from(x)), [[1], [2], [3]])
  assert.deepEqual((await store.load('b'))?.updates.map((x) => Array.from(x)), [[4]])
  assert.equal(await store.load('bad'), null)

  // The whole transaction fails (here: what runs in the group throws after two appends): both
  // appends reject, though each had succeeded on its own, and nothing of them is stored.
  let c!: Promise<number>, d!: Promise<number>
  store.group(() => {
    c = store.append('a', [u(5)])
    d = store.append('d', [u(6)])
    throw new Error('the group fails')
  })
  await assert.rejects(c, /the group fails/)
  await assert.rejects(d, /the group fails/)
  assert.deepEqual((await store.load('a'))?.updates.map((x) => Array.from(x)), [[1], [2], [3]])
  assert.equal(await store.load('d'), null)
  assert.equal(await store.append('a', [u(7)]), 4, 'sequence numbers go on from what was committed')
})

test('sqlite store: appendNow is committed when it returns, and declines inside a group', async (t) => {
  const cleanup = new Cleanup(t)
  const dir = cleanup.tempDir()
  const store = SqliteStore.open(dir, { synchronous: 'normal' })
  cleanup.add(() => store.close())
  assert.equal(store.appendNow('doc', [u(1)], 0), 1)
  // Another connection sees it at once: committed, not waiting for anything.
  const db = new Database(path.join(dir, 'tandem.sqlite'), { readonly: true, fileMustExist: true })
  cleanup.add(() => db.close())
  assert.deepEqual(db.prepare('SELECT seq FROM updates WHERE doc = ?').all('doc'), [{ seq: 1 }])
  let declined: number | null = 0
  let later!: Promise<number>
  store.group(() => {
    declined = store.appendNow('doc', [u(2)], 1)
    later = store.append('doc', [u(2)], 1)
  })
  assert.equal(declined, null, 'inside a group, rows are durable only when it commits')
  assert.equal(await later, 2)
  assert.deepEqual((await store.load('doc'))?.updates.map((x) => Array.from(x)), [[1], [2]])
  // Behind (as after another process's append): numbered after what is stored.
  assert.equal(store.appendNow('doc', [u(3), u(4)], 1), 4)
})

test('sqlite store: the WAL is copied back into the file between turns, never inside a commit', async (t) => {
  const cleanup = new Cleanup(t)
  const dir = cleanup.tempDir()
  const store = SqliteStore.open(dir, { synchronous: 'normal' })
  cleanup.add(() => store.close())
  const file = path.join(dir, 'tandem.sqlite')
  const before = fs.statSync(file).size
  // 600 commits of about 3 pages each (1,861 pages in all when measured), all in this turn.
  // SQLite's own checkpoint would run inside the commit that takes the WAL past 1,000 pages, and
  // copy them into the file there.
  const appends = Array.from({ length: 600 }, (_, i) => store.append('doc', [new Uint8Array(900).fill(i % 256)]))
  assert.equal(fs.statSync(file).size, before, 'the file grew inside the commits: a checkpoint ran there')
  assert.equal(await appends.at(-1), 600)
  await waitFor(() => fs.statSync(file).size > 600 * 900, {
    message: () => `the file holds ${fs.statSync(file).size} bytes: the WAL was not copied back after the turn`,
  })
  const stored = await store.load('doc')
  assert.equal(stored?.updates.length, 600)
  assert.deepEqual(Array.from(stored!.updates[599]!.subarray(0, 2)), [599 % 256, 599 % 256])
})

test('sqlite store: the WAL is synced ahead of its checkpoint, and close leaves no descriptor behind', async (t) => {
  const cleanup = new Cleanup(t)
  const dir = cleanup.tempDir()
  let store = SqliteStore.open(dir, { synchronous: 'normal' })
  cleanup.add(() => store.close())
  const wal = path.join(dir, 'tandem.sqlite-wal')
  // Descriptors of this process open on the WAL (Linux; elsewhere only the data is checked).
  const linux = fs.existsSync('/proc/self/fd')
  const walDescriptors = () =>
    fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        // Once the last connection closes, SQLite deletes the WAL: the link then says so.
        return fs.readlinkSync(`/proc/self/fd/${fd}`).replace(/ \(deleted\)$/, '') === wal
      } catch {
        return false
      }
    }).length
  // Past CHECKPOINT_PAGES in one turn: the sync starts inside the commit that crosses it.
  const appends = Array.from({ length: 600 }, (_, i) => store.append('doc', [new Uint8Array(900).fill(i % 256)]))
  if (linux) assert.equal(walDescriptors(), 2, "SQLite's own descriptor and the one the sync ahead holds")
  // Closed in the same turn, so while the sync is still running: its callback closes the descriptor.
  await store.close()
  assert.equal(await appends.at(-1), 600)
  if (linux) await waitFor(() => walDescriptors() === 0, { message: () => `${walDescriptors()} descriptors still open on the WAL` })
  store = SqliteStore.open(dir, { synchronous: 'normal' })
  assert.equal((await store.load('doc'))?.updates.length, 600)
})

/**
 * Two PostgresStore instances (two pools, as two servers) append at once, each batching its own
 * appends into shared statements: to documents only one of them writes, to documents both write
 * in opposite orders (a batch that locked counter rows in arrival order would deadlock with the
 * other instance's), and to one document twice in the same turn (one batch, call order kept).
 */
test('postgres store: concurrent batched appends from two instances', async (t) => {
  if (!(await needs(t, ['postgres']))) return
  const cleanup = new Cleanup(t)
  const schema = uniqueSchema()
  cleanup.add(() => dropSchema(schema))
  const open = () => PostgresStore.open({ connectionString: POSTGRES_URL, schema, maxConnections: 4 })
  const stores = [await open(), await open()]
  for (const store of stores) cleanup.add(() => store.close())

  const shared = Array.from({ length: 200 }, (_, i) => `shared-${String(i).padStart(3, '0')}`)
  const rounds = 25
  // Every update is unique: [instance, round, doc, call within the round, index in the call].
  const written: { doc: string; updates: Uint8Array[]; seq: number }[] = []
  const appendAll = async (instance: number, round: number) => {
    const docs = instance === 0 ? shared : [...shared].reverse()
    const calls: { doc: string; updates: Uint8Array[] }[] = []
    docs.forEach((doc, d) => calls.push({ doc, updates: Array.from({ length: 1 + ((round + d) % 3) }, (_, k) => u(instance, round, d, 0, k)) }))
    calls.push({ doc: `own-${instance}`, updates: [u(instance, round, 0, 0, 0), u(instance, round, 0, 0, 1)] })
    calls.push({ doc: 'twice', updates: [u(instance, round, 0, 0, 0), u(instance, round, 0, 0, 1)] })
    calls.push({ doc: 'twice', updates: [u(instance, round, 0, 1, 0)] })
    const seqs = await Promise.all(calls.map((c) => stores[instance]!.append(c.doc, c.updates)))
    calls.forEach((c, i) => written.push({ ...c, seq: seqs[i]! }))
  }
  for (let round = 0; round < rounds; round++) await Promise.all([appendAll(0, round), appendAll(1, round)])

  const byDoc = new Map<string, typeof written>()
  for (const w of written) byDoc.set(w.doc, [...(byDoc.get(w.doc) ?? []), w])
  for (const [doc, appends] of byDoc) {
    const loaded = await stores[0]!.load(doc)
    assert.ok(loaded, doc)
    const total = appends.reduce((n, a) => n + a.updates.length, 0)
    // Sequence numbers are unique (primary key) and start at 1, so n rows ending at n are 1..n.
    assert.equal(loaded.updates.length, total, `${doc}: every update stored`)
    assert.equal(loaded.seq, total, `${doc}: contiguous sequence numbers`)
    for (const a of appends) {
      // Each append's updates are the ones just below the seq it returned, in its order.
      const stored = loaded.updates.slice(a.seq - a.updates.length, a.seq)
      assert.deepEqual(stored.map((x) => Array.from(x)), a.updates.map((x) => Array.from(x)), `${doc} at ${a.seq}`)
    }
  }
  // Both calls to 'twice' in one turn went into one batch: the first call's updates come first.
  for (const instance of [0, 1]) {
    for (let round = 0; round < rounds; round++) {
      const [first, second] = written.filter((w) => w.doc === 'twice' && w.updates[0]![0] === instance && w.updates[0]![1] === round)
      assert.equal(second!.seq, first!.seq + 1, `twice, instance ${instance}, round ${round}`)
    }
  }
})
