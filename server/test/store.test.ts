/** The Store contract against every backend, plus what only a file-backed store can promise. */
import assert from 'node:assert/strict'
import path from 'node:path'
import Database from 'better-sqlite3'
import { MemoryStore } from '../src/store/memory.js'
import { SqliteStore } from '../src/store/sqlite.js'
import { PostgresStore } from '../src/store/postgres.js'
import { Cleanup } from './helpers/cleanup.js'
import { dropSchema, needs, POSTGRES_URL, uniqueSchema } from './helpers/services.js'
import { test } from './helpers/test.js'
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
