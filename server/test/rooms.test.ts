/**
 * The room registry: one load however many joins race, a join during an unload waits and loads
 * afresh, a failed load writes nothing and can be retried.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { TandemError } from '../src/errors.js'
import { silentLogger } from '../src/log.js'
import type { Room } from '../src/room.js'
import { Rooms, type RoomsOptions } from '../src/rooms.js'
import { SqliteStore } from '../src/store/sqlite.js'
import { Cleanup } from './helpers/cleanup.js'
import { refuseRowsOf } from './helpers/sqlite.js'
import { Editor, RecordingPeer, textOf } from './helpers/peers.js'
import { InstrumentedStore } from './helpers/stores.js'
import { deferred, turns, waitFor } from './helpers/wait.js'
import { test, type TestContext } from './helpers/test.js'

function setup(t: TestContext, options: Partial<RoomsOptions> = {}) {
  const cleanup = new Cleanup(t)
  const store = new InstrumentedStore()
  const rooms = new Rooms(store, { idleMs: 60_000, compactAfterUpdates: 1000, retryDelayMs: 5, ...options }, silentLogger)
  // closeAll also clears idle timers, so nothing outlives the test.
  cleanup.add(() => store.close())
  cleanup.add(() => rooms.closeAll())
  const editor = new Editor()
  cleanup.add(() => editor.destroy())
  return { cleanup, store, rooms, editor }
}

test('1. concurrent acquires of one name share a single load', async (t) => {
  const { store, rooms } = setup(t)
  const gate = deferred()
  store.before.load = () => gate.promise
  const acquiring = Array.from({ length: 5 }, () => rooms.acquire('doc'))
  await waitFor(() => store.count('load') === 1, { message: 'load never started' })
  await turns(3)
  gate.resolve()
  const got = await Promise.all(acquiring)
  assert.equal(store.count('load'), 1)
  assert.ok(got.every((room) => room === got[0]), 'every acquire got the same room')
  assert.equal(rooms.loadedCount, 1)
  // Once loaded, later acquires reuse it too.
  assert.equal(await rooms.acquire('doc'), got[0])
  assert.equal(store.count('load'), 1)
  // Other names load separately.
  assert.notEqual(await rooms.acquire('other'), got[0])
  assert.equal(store.count('load'), 2)
})

test('2. a join during an unload waits for it, then loads afresh and sees the flushed data', async (t) => {
  const { store, rooms, editor } = setup(t, { idleMs: 0 })
  const room = await rooms.acquire('doc')
  const peer = new RecordingPeer()
  room.join(peer)

  // The first update's commit is held in the store...
  const gate = deferred()
  store.before.append = () => gate.promise
  room.handle(peer, { kind: 'update', update: editor.insert(0, 'one ') })
  await waitFor(() => store.count('append') === 1, { message: 'no append' })
  // ...a second one is only pending in memory when the last peer leaves.
  room.handle(peer, { kind: 'update', update: editor.insert(4, 'two') })
  const unloadFlushed = deferred()
  const flush = room.flush.bind(room)
  room.flush = () => {
    unloadFlushed.resolve()
    return flush()
  }
  room.leave(peer)
  rooms.release(room)
  await unloadFlushed.promise // the idle timer fired: the unload is flushing

  let settled = false
  const joining = rooms.acquire('doc').finally(() => (settled = true))
  await turns(5)
  assert.equal(settled, false, 'the join did not wait for the unload')
  assert.equal(store.count('load'), 1, 'loaded again before the unload finished')

  gate.resolve()
  const fresh = await joining
  assert.notEqual(fresh, room, 'got the room being unloaded')
  assert.equal(room.destroyed, true)
  assert.equal(store.count('load'), 2)
  assert.equal(fresh.text(), 'one two', 'the fresh room lacks what the unload flushed')
  assert.equal(textOf((await store.inner.load('doc'))!.updates), 'one two')
})

test('3. an idle room is flushed and unloaded; a failed final flush keeps it loaded', async (t) => {
  const { store, rooms, editor } = setup(t, { idleMs: 0 })
  const room = await rooms.acquire('doc')
  const peer = new RecordingPeer()
  room.join(peer)
  let failures = 0
  store.before.append = () => {
    if (failures++ < 2) throw new Error('disk unplugged')
  }
  room.handle(peer, { kind: 'update', update: editor.insert(0, 'unsaved') })
  room.leave(peer)
  rooms.release(room)
  // The append fails (commit and first unload flush) then succeeds on a later attempt, after
  // which the room unloads: the unsaved text was never dropped.
  await waitFor(() => room.destroyed, { message: 'the room was never unloaded' })
  assert.ok(store.count('append') >= 3, `appends: ${store.count('append')}`)
  assert.equal(rooms.loadedCount, 0)
  assert.equal(textOf((await store.inner.load('doc'))!.updates), 'unsaved')
})

test('4. a failing load rejects with LOAD_FAILED, writes nothing, and a later acquire retries', async (t) => {
  const { store, rooms } = setup(t)
  const gate = deferred()
  store.before.load = async () => {
    await gate.promise
    if (store.count('load') === 1) throw new Error('disk on fire')
  }
  const first = rooms.acquire('doc')
  const second = rooms.acquire('doc')
  gate.resolve()
  for (const attempt of [first, second]) {
    await assert.rejects(attempt, (err: unknown) => {
      assert.ok(err instanceof TandemError)
      assert.equal(err.code, 'LOAD_FAILED')
      assert.equal(err.closeCode, 1011)
      assert.match(String((err.cause as Error)?.message), /disk on fire/)
      return true
    })
  }
  assert.equal(rooms.loadedCount, 0)
  assert.equal(store.count('append'), 0)
  assert.equal(store.count('compact'), 0)

  const room = await rooms.acquire('doc')
  assert.equal(store.count('load'), 2, 'the next acquire loaded again')
  assert.equal(room.destroyed, false)
  assert.equal(rooms.loadedCount, 1)
})

test('5. a stored document Yjs rejects is a LOAD_FAILED too, and is never overwritten', async (t) => {
  const { store, rooms } = setup(t)
  const garbage = new Uint8Array(11).fill(0xff)
  await store.inner.append('corrupt', [garbage])
  await assert.rejects(rooms.acquire('corrupt'), (err: unknown) => err instanceof TandemError && err.code === 'LOAD_FAILED')
  await assert.rejects(rooms.text('corrupt'))
  assert.equal(store.count('append'), 0)
  const stored = await store.inner.load('corrupt')
  assert.deepEqual(stored && stored.updates.map((u) => Array.from(u)), [Array.from(garbage)])
})

test('6. text(): null when never written, the live text when loaded, without registering a room', async (t) => {
  const { store, rooms, editor } = setup(t)
  assert.equal(await rooms.text('nothing'), null)
  assert.equal(rooms.loadedCount, 0)

  const room = await rooms.acquire('doc')
  assert.equal(await rooms.text('doc'), null, 'a loaded but never written document')
  const peer = new RecordingPeer()
  room.join(peer)
  room.handle(peer, { kind: 'update', update: editor.insert(0, 'live') })
  assert.equal(await rooms.text('doc'), 'live', 'pending edits count: they are about to be stored')
  await room.flush()

  const other = new Editor()
  await store.inner.append('cold', [other.insert(0, 'cold')])
  other.destroy()
  assert.equal(await rooms.text('cold'), 'cold')
  assert.equal(rooms.loadedCount, 1, 'text() of a cold document registered a room')
})

test('7. a document nobody wrote for a whole check interval gives its Y.Doc up; writes, joins and reads carry on', async (t) => {
  const { rooms, store, editor } = setup(t, { restCheckMs: 25 })
  const room = await rooms.acquire('doc')
  const writer = new RecordingPeer()
  room.join(writer)
  room.handle(writer, { kind: 'update', update: editor.insert(0, 'hello') })
  assert.ok(room.live, 'written: a Y.Doc')
  await room.flush()

  // Written in every interval: stays live.
  for (let i = 0; i < 6; i++) {
    room.handle(writer, { kind: 'update', update: editor.insert(editor.text.length, `${i}`) })
    await new Promise((resolve) => setTimeout(resolve, 12))
    assert.ok(room.live, `rested while being written (step ${i})`)
  }
  await waitFor(() => !room.live, { timeoutMs: 2000, message: 'a quiet document kept its Y.Doc' })

  // Encoded again: a join gets the whole text, and the next write builds the doc once more.
  const reader = new RecordingPeer()
  room.join(reader)
  room.handle(reader, { kind: 'sync-step1', stateVector: new Uint8Array([0]) })
  assert.equal(textOf(reader.of('sync-step2').map((f) => f.update)), 'hello012345')
  room.handle(writer, { kind: 'update', update: editor.insert(0, '>') })
  assert.ok(room.live)
  await room.flush()
  assert.equal(room.text(), '>hello012345')
  assert.equal(textOf(reader.of('update').map((f) => f.update).concat(reader.of('sync-step2').map((f) => f.update))), '>hello012345')
  const stored = await store.inner.load('doc')
  assert.equal(stored && textOf(stored.updates), '>hello012345')
})

test('7b. a rest check rests quiet rooms a slice per turn, not all in one', async (t) => {
  const { cleanup, rooms } = setup(t, { restSliceMs: 0 })
  const writer = new RecordingPeer()
  const all: Room[] = []
  for (let i = 0; i < 5; i++) {
    const room = await rooms.acquire(`doc-${i}`)
    const editor = new Editor()
    cleanup.add(() => editor.destroy())
    room.join(writer)
    room.handle(writer, { kind: 'update', update: editor.insert(0, `${i}`) })
    await room.flush()
    all.push(room)
  }
  const live = () => all.filter((r) => r.live).length
  // The first check marks what each room has taken; the second finds them quiet.
  await rooms.restQuiet()
  assert.equal(live(), 5, 'rested while written in the last interval')
  const pass = rooms.restQuiet()
  assert.equal(live(), 4, 'with a slice of 0 ms, one room in the first turn of the check')
  await turns(1)
  assert.equal(live(), 3, 'and the next in the turn after')
  await pass
  assert.equal(live(), 0, 'every quiet room once the check is done')
  // Still whole: text and the next write.
  assert.equal(all[2]!.text(), '2')
})

test('8. a room whose last peer leaves rests at once; one with structs waiting for a dependency does not', async (t) => {
  const { rooms, editor } = setup(t)
  const room = await rooms.acquire('doc')
  const peer = new RecordingPeer()
  room.join(peer)
  room.handle(peer, { kind: 'update', update: editor.insert(0, 'abc') })
  await room.flush()
  assert.ok(room.live)
  room.leave(peer)
  rooms.release(room)
  assert.equal(room.live, false, 'the last peer left and the Y.Doc stayed')

  // An update whose dependency never came: not stored, so the doc cannot be encoded without it.
  const other = await rooms.acquire('waiting')
  const p = new RecordingPeer()
  other.join(p)
  const a = new Editor(71)
  const b = new Editor(72)
  t.after(() => {
    a.destroy()
    b.destroy()
  })
  const first = a.insert(0, 'x')
  b.receive(first)
  other.handle(p, { kind: 'update', update: b.insert(1, 'y') })
  assert.ok(other.live)
  assert.equal(other.rest(), false, 'rested with a struct waiting for its dependency')
  other.handle(p, { kind: 'update', update: first })
  await other.flush()
  assert.equal(other.rest(), true)
  assert.equal(other.text(), 'xy')
})

test('9. when the last peer leaves, the stored tail is folded into a snapshot; a reader leaving adds nothing', async (t) => {
  const { store, rooms, editor } = setup(t)
  // One acquire per peer, as the server does per connection.
  const room = await rooms.acquire('doc')
  assert.equal(await rooms.acquire('doc'), room)
  const writer = new RecordingPeer()
  const reader = new RecordingPeer()
  room.join(writer)
  room.join(reader)
  for (const word of ['one ', 'two ', 'three']) {
    room.handle(writer, { kind: 'update', update: editor.insert(editor.text.length, word) })
    await room.flush()
  }
  assert.equal((await store.inner.load('doc'))?.tail, 3, 'three commits, three rows')
  room.leave(writer)
  rooms.release(room)
  await room.flush()
  assert.equal(store.count('compact'), 0, 'compacted while a peer was still there')

  room.leave(reader)
  rooms.release(room)
  await waitFor(() => store.count('compact') === 1, { message: 'the tail was not folded when the room emptied' })
  await room.flush()
  const stored = await store.inner.load('doc')
  assert.equal(stored?.tail, 0)
  assert.equal(stored?.updates.length, 1, 'one snapshot, nothing to merge at the next load')
  assert.equal(textOf(stored.updates), 'one two three')

  // Nothing written since: another visit leaves the snapshot alone.
  const again = await rooms.acquire('doc')
  const visitor = new RecordingPeer()
  again.join(visitor)
  again.leave(visitor)
  rooms.release(again)
  await again.flush()
  assert.equal(store.count('compact'), 1)
})

test('10. rooms written in one turn commit in one SQLite transaction; a room whose append fails alone relays nothing until a retry stores it', async (t) => {
  const cleanup = new Cleanup(t)
  const dir = cleanup.tempDir()
  const store = SqliteStore.open(dir, { synchronous: 'normal' })
  cleanup.add(() => store.close())
  const rooms = new Rooms(store, { idleMs: 60_000, compactAfterUpdates: 1000, retryDelayMs: 5 }, silentLogger)
  cleanup.add(() => rooms.closeAll())
  // Which appends ran inside a group, and how many groups there were.
  const group = store.group.bind(store)
  const append = store.append.bind(store)
  let groups = 0
  let inGroup = false
  const appends: Array<{ name: string; grouped: boolean }> = []
  store.group = (run) => {
    groups++
    inGroup = true
    try {
      group(run)
    } finally {
      inGroup = false
    }
  }
  store.append = (name, updates, last) => {
    appends.push({ name, grouped: inGroup })
    return append(name, updates, last)
  }
  // A room's commit outside a group (a retry) appends at once, where it can.
  const appendNow = store.appendNow.bind(store)
  store.appendNow = (name, updates, last) => {
    // Inside a group it declines, and the room calls append().
    if (!inGroup) appends.push({ name, grouped: false })
    return appendNow(name, updates, last)
  }
  // Document 'c' cannot be stored for now: its rows are refused.
  const acceptC = refuseRowsOf(path.join(dir, 'tandem.sqlite'), 'c')

  const names = ['a', 'b', 'c']
  const parts = await Promise.all(
    names.map(async (name) => {
      const room = await rooms.acquire(name)
      const writer = new RecordingPeer()
      const reader = new RecordingPeer()
      room.join(writer)
      room.join(reader)
      const editor = new Editor()
      cleanup.add(() => editor.destroy())
      return { name, room, writer, reader, editor }
    }),
  )
  // One turn: an edit in every room.
  for (const p of parts) p.room.handle(p.writer, { kind: 'update', update: p.editor.insert(0, `text of ${p.name}`) })
  const relayed = (p: (typeof parts)[number]) => textOf(p.reader.of('update').map((f) => f.update))
  await waitFor(() => relayed(parts[0]!) !== '' && relayed(parts[1]!) !== '', { message: 'a and b were not relayed' })
  assert.equal(groups, 1, 'one group for the turn')
  assert.deepEqual(appends, names.map((name) => ({ name, grouped: true })))
  assert.equal(relayed(parts[0]!), 'text of a')
  assert.equal(relayed(parts[1]!), 'text of b')
  assert.equal((await store.load('a'))?.updates.length, 1)

  // 'c' was not stored, so its reader has nothing; its room retries on its own.
  await waitFor(() => appends.filter((x) => x.name === 'c').length >= 3, { message: 'c did not retry' })
  assert.equal(relayed(parts[2]!), '', 'relayed before it was stored')
  acceptC()
  await waitFor(() => relayed(parts[2]!) === 'text of c', { message: 'c was not relayed once it could be stored' })
  assert.equal(textOf((await store.load('c'))!.updates), 'text of c')
})
