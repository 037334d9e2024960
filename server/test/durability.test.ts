/**
 * Durability of the real process (server/src/main.ts as a child, SQLite in a temp DATA_DIR):
 * SIGTERM flushes and closes with 1012; SIGKILL never takes back an edit a peer has seen;
 * compaction keeps the log short and the text intact across restarts.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import Database from 'better-sqlite3'
import { Cleanup } from './helpers/cleanup.js'
import { converged, stockClient } from './helpers/clients.js'
import { seededRng } from './helpers/random.js'
import { spawnServer } from './helpers/server.js'
import { turns, waitFor, within } from './helpers/wait.js'
import { test } from './helpers/test.js'

test('a. SIGTERM: clients get 1012, the process exits 0, a restart has the text; clients reconnect', async (t) => {
  const cleanup = new Cleanup(t)
  const dataDir = cleanup.tempDir()
  const first = await spawnServer(cleanup, { dataDir })
  const a = await stockClient(cleanup, first.wsUrl, 'term')
  const b = await stockClient(cleanup, first.wsUrl, 'term')
  a.text.insert(0, 'committed')
  await waitFor(() => b.text.toString() === 'committed', { message: 'b never saw a’s edit' })
  // Sent right before the signal: the server may or may not read it before it stops; either way
  // a keeps it and resends it when it reconnects, so it must not be lost.
  a.text.insert(a.text.length, ' +unacked')
  const stopping = performance.now()
  first.child.kill('SIGTERM')
  const exit = await within(first.exited, { timeoutMs: 10_000, message: 'the server did not exit within 10 s of SIGTERM' })
  assert.deepEqual(exit, { code: 0, signal: null }, `exit; stderr:\n${first.stderr()}`)
  t.diagnostic(`SIGTERM to exit: ${Math.round(performance.now() - stopping)} ms`)
  await waitFor(() => a.closeCodes.length > 0 && b.closeCodes.length > 0, { message: 'clients saw no close' })
  assert.equal(a.closeCodes[0], 1012)
  assert.equal(b.closeCodes[0], 1012)

  // An edit made while the server is down: the stock client keeps it and sends it on reconnect.
  b.text.insert(b.text.length, ' +offline')
  const second = await spawnServer(cleanup, { dataDir, port: first.port })
  const fresh = await stockClient(cleanup, second.wsUrl, 'term')
  const restored = fresh.text.toString()
  assert.ok(restored.startsWith('committed'), `after restart: ${JSON.stringify(restored)}`)
  const [text] = await converged([a, b, fresh], { timeoutMs: 10_000 })
  for (const piece of ['committed', ' +unacked', ' +offline']) assert.ok(text!.includes(piece), `${piece} missing from ${text}`)
  assert.equal(text!.length, 'committed +unacked +offline'.length)
})

test('b. SIGKILL right after a peer saw edit k: a restart holds everything that peer saw', async (t) => {
  const cleanup = new Cleanup(t)
  const rng = seededRng(t)
  const EDITS = 40
  for (let round = 0; round < 3; round++) {
    const k = rng.range(1, EDITS - 5)
    const token = (i: number) => `<${i}>`
    const dataDir = cleanup.tempDir()
    const server = await spawnServer(cleanup, { dataDir })
    const name = `kill-${round}`
    const a = await stockClient(cleanup, server.wsUrl, name)
    const b = await stockClient(cleanup, server.wsUrl, name)

    let seenAtKill: string | null = null
    b.doc.on('update', () => {
      if (seenAtKill !== null) return
      const seen = b.text.toString()
      if (seen.includes(token(k))) {
        server.child.kill('SIGKILL') // synchronously, before anything else can happen
        seenAtKill = seen
      }
    })
    // A types one edit per event-loop turn or so, as fast as a client can, until the kill.
    for (let i = 0; i < EDITS && seenAtKill === null; i++) {
      a.text.insert(a.text.length, token(i))
      if (rng.float() < 0.7) await turns(1)
    }
    await waitFor(() => seenAtKill !== null, { message: `b never saw edit ${k}` })
    const exit = await within(server.exited, { message: 'killed server did not exit' })
    assert.equal(exit.signal, 'SIGKILL')
    // The old clients must not push their copies into the new server.
    a.destroy()
    b.destroy()

    const restarted = await spawnServer(cleanup, { dataDir })
    const fresh = await stockClient(cleanup, restarted.wsUrl, name)
    const stored = fresh.text.toString()
    t.diagnostic(`round ${round}: k=${k}, b had seen ${seenAtKill!.length} chars, restart has ${stored.length}`)
    assert.ok(stored.startsWith(seenAtKill!), `edits b saw were lost:\n  b saw:   ${seenAtKill}\n  stored: ${stored}`)
    fresh.destroy()
    restarted.child.kill('SIGTERM')
    assert.equal((await within(restarted.exited, { timeoutMs: 10_000, message: 'restart did not stop' })).code, 0)
  }
})

test('c. compaction: 500 edits with COMPACT_AFTER_UPDATES=10 leave < 10 log rows and the text intact', async (t) => {
  const cleanup = new Cleanup(t)
  const dataDir = cleanup.tempDir()
  // Low: keystrokes that reach the server together are stored as one row (room.ts, applyRun).
  const env = { COMPACT_AFTER_UPDATES: '10' }
  const first = await spawnServer(cleanup, { dataDir, env })
  const a = await stockClient(cleanup, first.wsUrl, 'compact')
  const b = await stockClient(cleanup, first.wsUrl, 'compact')
  let expected = ''
  for (let i = 0; i < 500; i++) {
    const piece = `${i % 10}`
    a.text.insert(a.text.length, piece)
    expected += piece
    if (i % 3 === 0) await turns(1)
  }
  // b has everything only once the server stored everything (it relays after the commit).
  await waitFor(() => b.text.toString() === expected, { timeoutMs: 10_000, message: () => `b has ${b.text.length} of 500` })
  a.destroy()
  b.destroy()
  first.child.kill('SIGTERM')
  assert.equal((await within(first.exited, { timeoutMs: 10_000, message: 'no exit after SIGTERM' })).code, 0)

  const db = new Database(path.join(dataDir, 'tandem.sqlite'), { readonly: true, fileMustExist: true })
  try {
    const rows = (db.prepare('SELECT count(*) AS n FROM updates WHERE doc = ?').get('compact') as { n: number }).n
    const snapshots = (db.prepare('SELECT count(*) AS n FROM snapshots WHERE doc = ?').get('compact') as { n: number }).n
    t.diagnostic(`updates rows after 500 edits: ${rows}; snapshots: ${snapshots}`)
    assert.ok(rows < 10, `${rows} update rows remain`)
    assert.equal(snapshots, 1)
  } finally {
    db.close()
  }

  const second = await spawnServer(cleanup, { dataDir, env })
  const fresh = await stockClient(cleanup, second.wsUrl, 'compact')
  assert.equal(fresh.text.toString(), expected)
})
