/**
 * Yjs ID reuse (equivocation.ts): an update that gives an ID (client, clock) the server already
 * has (or awaits) other content, origin, right origin or parent is refused with 4422 before it
 * is applied, so the server's doc stays what it stores and relays. Honest clients, which resend
 * what they have in every shape (whole states, diffs, merged and reordered updates, after
 * reconnects and offline edits), are never refused.
 */
import assert from 'node:assert/strict'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { findReusedId } from '../src/equivocation.js'
import { encodeSyncStep2, encodeUpdate } from '../src/protocol.js'
import { TEXT_NAME } from '../src/room.js'
import { Cleanup } from './helpers/cleanup.js'
import { converged, RawClient, stockClient, synced, type StockClient } from './helpers/clients.js'
import { savedQuery } from './helpers/hostile.js'
import { seededRng, type Rng } from './helpers/random.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'
import { test } from './helpers/test.js'

const ROOM = 'equivocation'
/** The client id the hostile updates write as. */
const H = 777

/** A whole document made by client `clientID` (on top of `base`, if given). */
function made(clientID: number, edit: (doc: Y.Doc) => void, base?: Uint8Array): Uint8Array {
  const doc = new Y.Doc()
  if (base) Y.applyUpdate(doc, base)
  doc.clientID = clientID
  const before = Y.encodeStateVector(doc)
  edit(doc)
  const update = Y.encodeStateAsUpdate(doc, before)
  doc.destroy()
  return update
}

const text = (s: string, at = 0) => (doc: Y.Doc) => doc.getText(TEXT_NAME).insert(at, s)

/** Applies updates in order to a fresh doc, each after the check; returns each one's verdict. */
function verdicts(updates: readonly Uint8Array[]): Array<string | null> {
  const doc = new Y.Doc()
  const out = updates.map((update) => {
    const problem = findReusedId(doc, Y.decodeUpdate(update))
    if (problem === null) Y.applyUpdate(doc, update)
    return problem
  })
  doc.destroy()
  return out
}

/**
 * Every struct of a doc with what Yjs fixed at its creation and where it sits now, and each
 * root type's length: two docs that print alike hold the same structure.
 */
function structure(doc: Y.Doc): string {
  const id = (x: Y.ID | null) => (x ? `${x.client}:${x.clock}` : '-')
  const parentOf = (type: Y.AbstractType<unknown>) => (type._item ? id(type._item.id) : Y.findRootTypeKey(type))
  const lines: string[] = []
  for (const [client, structs] of [...doc.store.clients].sort(([a], [b]) => a - b)) {
    for (const s of structs) {
      if (!(s instanceof Y.Item)) {
        lines.push(`${client}:${s.id.clock}+${s.length} gc`)
        continue
      }
      const parent = parentOf(s.parent as Y.AbstractType<unknown>)
      lines.push(`${client}:${s.id.clock}+${s.length} o=${id(s.origin)} r=${id(s.rightOrigin)} p=${parent}.${s.parentSub} left=${id(s.left?.id ?? null)}`)
    }
  }
  for (const [name, type] of [...doc.share].sort(([a], [b]) => a.localeCompare(b))) if (type._length > 0) lines.push(`${name} length ${type._length}`)
  return lines.join('\n')
}

test('1. an update reusing known IDs with other content, origin, right origin or parent is found; the same again is not', () => {
  const hello = made(H, text('hello'))
  const refused = (what: string, updates: Uint8Array[], pattern: RegExp) => {
    const result = verdicts(updates)
    assert.deepEqual(result.slice(0, -1), result.slice(0, -1).map(() => null), `${what}: an earlier update was refused`)
    assert.match(result.at(-1) ?? 'accepted', pattern, what)
  }
  refused('whole overlap, other text', [hello, made(H, text('XXXXX'))], /client 777 clock 0 is reused with other content/)
  refused('partial overlap, other text', [hello, made(H, text('heLLo, world'))], /clock 0 is reused with other content/)
  refused('partial overlap, another root type', [hello, made(H, (d) => d.getArray('a').insert(0, [1, 2, 3, 4, 5, 6, 7]))], /clock 0 is reused in another parent/)
  refused('partial overlap, another text', [hello, made(H, (d) => d.getText('other').insert(0, 'hello, world'))], /reused in another parent/)
  refused('a map entry under another key', [made(H, (d) => d.getMap('m').set('k', 1)), made(H, (d) => d.getMap('m').set('j', 1))], /reused in another parent/)
  refused('a map entry with another value', [made(H, (d) => d.getMap('m').set('k', 1)), made(H, (d) => d.getMap('m').set('k', 2))], /other content/)
  refused('a nested type of another kind', [made(H, (d) => d.getMap('m').set('k', new Y.Text())), made(H, (d) => d.getMap('m').set('k', new Y.Array()))], /other content/)
  const base = made(1, text('AAAA'))
  refused('the same text at another place', [base, made(H, text('hh', 1), base), made(H, text('hh', 3), base)], /clock 0 is reused with another origin/)
  // The same text after the same item, but before another one: another right origin only.
  const ab = made(1, text('AB'))
  const acb = Y.mergeUpdates([ab, made(2, text('C', 1), ab)])
  refused('before another item', [acb, made(H, text('x', 1), ab), made(H, text('x', 1), acb)], /clock 0 is reused with another right origin/)
  // Waiting for a dependency: "world" (777:5..10) arrives before "hello"; then other content at 0..8.
  const helloWorld = new Y.Doc()
  helloWorld.clientID = H
  helloWorld.getText(TEXT_NAME).insert(0, 'hello')
  const world = made(H, text('world', 5), Y.encodeStateAsUpdate(helloWorld))
  refused('overlap with a pending update', [world, made(H, text('abcdefgh'))], /clock 5 is reused with other content \(in an update still waiting/)
  helloWorld.destroy()

  // What agrees passes: the same update again, a longer version of the same item, GC'd ranges.
  assert.deepEqual(verdicts([hello, hello]), [null, null])
  assert.deepEqual(verdicts([hello, made(H, text('hello, world'))]), [null, null])
  const gc = (() => {
    const e = encoding.createEncoder()
    for (const n of [1, 1, H, 0, 0, 5, 0]) encoding.writeVarUint(e, n) // one GC struct 777:0+5
    return encoding.toUint8Array(e)
  })()
  assert.deepEqual(verdicts([hello, gc]), [null, null], 'a GC struct over known content')
  assert.deepEqual(verdicts([gc, made(H, text('XXXXX'))]), [null, null], 'content over a GC range cannot be compared')
})

/**
 * Honest clients in one process: each edits its own doc (text with emoji and formatting, a map
 * of values and nested texts, an array), they sync with each other directly, and send the server
 * what they have in every shape an honest client can: single updates, merged and reversed
 * batches (so some wait for dependencies), whole states, diffs against the server's state
 * vector. Returns how many updates were checked and how many overlapped known IDs.
 */
function honestSession(rng: Rng, steps: number, refuse: (what: string) => never): { checked: number; overlapping: number } {
  const words = ['a', 'bc', 'déf', '😀', 'x😀y', 'hello ', '\n', '🎉🎉']
  const server = new Y.Doc()
  const clients = Array.from({ length: rng.range(2, 4) }, () => new Y.Doc())
  const unsent: Uint8Array[][] = clients.map(() => [])
  clients.forEach((doc, i) =>
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== 'remote') unsent[i]!.push(update)
    }),
  )
  let checked = 0
  let overlapping = 0
  const send = (update: Uint8Array, what: string) => {
    const decoded = Y.decodeUpdate(update)
    checked++
    if (decoded.structs.some((s) => s instanceof Y.Item && s.id.clock < Y.getState(server.store, s.id.client))) overlapping++
    const problem = findReusedId(server, decoded)
    if (problem) refuse(`${what}: ${problem}`)
    Y.applyUpdate(server, update)
  }
  for (let step = 0; step < steps; step++) {
    const i = rng.int(clients.length)
    const doc = clients[i]!
    const t = doc.getText(TEXT_NAME)
    const m = doc.getMap('m')
    const a = doc.getArray<unknown>('a')
    const op = rng.float()
    if (op < 0.35) t.insert(rng.int(t.length + 1), rng.pick(words), rng.float() < 0.2 ? { bold: true } : undefined)
    else if (op < 0.47 && t.length > 0) {
      const at = rng.int(t.length)
      t.delete(at, Math.min(rng.range(1, 4), t.length - at))
    } else if (op < 0.52 && t.length > 1) t.format(rng.int(t.length - 1), rng.range(1, 2), { italic: rng.float() < 0.5 ? true : null })
    else if (op < 0.59) {
      const key = `k${rng.int(3)}`
      if (rng.float() < 0.5) {
        const inner = new Y.Text()
        inner.insert(0, 'inner')
        m.set(key, inner)
      } else m.set(key, { n: rng.int(10), s: 'v' })
    } else if (op < 0.63) {
      const value = m.get(`k${rng.int(3)}`)
      if (value instanceof Y.Text) value.insert(0, rng.pick(words))
      else m.delete(`k${rng.int(3)}`)
    } else if (op < 0.67) a.insert(rng.int(a.length + 1), [rng.int(100), 'z'])
    else if (op < 0.7 && a.length > 0) a.delete(rng.int(a.length), 1)
    else if (op < 0.8) {
      const queue = unsent[i]!
      if (queue.length === 0) continue
      const batch = queue.splice(0, rng.range(1, queue.length))
      if (rng.float() < 0.3) batch.reverse()
      if (rng.float() < 0.3) send(Y.mergeUpdates(batch), 'a merged batch')
      else for (const update of batch) send(update, 'an update')
    } else if (op < 0.86) {
      send(Y.encodeStateAsUpdate(doc), 'a whole state')
      unsent[i]!.length = 0
    } else if (op < 0.92) {
      send(Y.encodeStateAsUpdate(doc, Y.encodeStateVector(server)), 'a diff')
      unsent[i]!.length = 0
    } else if (op < 0.96) Y.applyUpdate(doc, Y.encodeStateAsUpdate(server, Y.encodeStateVector(doc)), 'remote')
    else {
      const other = rng.pick(clients)
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(other, Y.encodeStateVector(doc)), 'remote')
    }
  }
  for (const doc of clients) send(Y.encodeStateAsUpdate(doc), 'a final whole state')
  // A server restarted from a snapshot holds merged items; whole states still agree with it.
  const reloaded = new Y.Doc()
  Y.applyUpdate(reloaded, Y.encodeStateAsUpdate(server))
  for (const doc of clients) {
    const problem = findReusedId(reloaded, Y.decodeUpdate(Y.encodeStateAsUpdate(doc)))
    checked++
    if (problem) refuse(`a whole state after a reload: ${problem}`)
  }
  for (const doc of [server, reloaded, ...clients]) doc.destroy()
  return { checked, overlapping }
}

test('2. honest clients resending what they have, in every shape, are never refused (seeded)', (t) => {
  const rng = seededRng(t)
  let checked = 0
  let overlapping = 0
  for (let session = 0; session < 40; session++) {
    const result = honestSession(rng, 150, (what) => assert.fail(`session ${session}: an honest client was refused: ${what}`))
    checked += result.checked
    overlapping += result.overlapping
  }
  t.diagnostic(`${checked} honest updates checked, ${overlapping} of them overlapping IDs the server had`)
  assert.ok(overlapping > checked / 10, `only ${overlapping} of ${checked} updates overlapped: the test does not exercise the check`)
})

/** Two stock clients that have exchanged an edit, and a raw client in the same room. */
async function room(cleanup: Cleanup, server: TestServer): Promise<[StockClient, StockClient]> {
  const a = await stockClient(cleanup, server.wsUrl, ROOM)
  const b = await stockClient(cleanup, server.wsUrl, ROOM)
  a.text.insert(0, 'honest ')
  await waitFor(() => b.text.toString() === 'honest ', { message: 'b never saw a' })
  return [a, b]
}

/** Sends frames and waits until the server answers a savedQuery after them (or closes). */
async function sendAndWait(client: RawClient, frames: Uint8Array[], id: number): Promise<void> {
  for (const frame of frames) client.send(frame)
  client.send(savedQuery(id))
  await waitFor(() => client.isClosed || client.frames.some((f) => f.kind === 'saved' && f.id === id), { message: `no answer to savedQuery(${id})` })
}

test('3. live: an update reusing IDs in another type is refused with 4422; the server’s doc stays what it stores and relays', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const [a, b] = await room(cleanup, server)
  const writer = await RawClient.connect(cleanup, `${server.wsUrl}/${ROOM}`)
  await writer.waitFrame('sync-step1')

  // 777 writes "hello" after the honest text: accepted and relayed.
  const base = Y.encodeStateAsUpdate(a.doc)
  await sendAndWait(writer, [encodeUpdate(made(H, text('hello', 7), base))], 1)
  await waitFor(() => b.text.toString() === 'honest hello', { message: () => `b has ${JSON.stringify(b.text.toString())}` })

  // Then the same IDs and more, as an array: Yjs would skip 777:0..4 and put the rest next to
  // "hello" in the text's list while naming the array its parent.
  await sendAndWait(writer, [encodeUpdate(made(H, (d) => d.getArray('a').insert(0, [1, 2, 3, 4, 5, 6, 7, 8])))], 2)
  const closed = await writer.waitClosed()
  assert.equal(closed.code, 4422, closed.reason)
  assert.match(closed.reason, /client 777 clock 0 is reused/)

  // Nothing of it was applied; the honest clients carry on and agree with a newcomer and the store.
  a.text.insert(a.text.length, '!')
  const late = await stockClient(cleanup, server.wsUrl, ROOM)
  const [textA] = await converged([a, b, late])
  assert.equal(textA, 'honest hello!')
  assert.deepEqual(late.doc.getArray('a').toJSON(), [])
  const stored = await server.store.load(ROOM)
  const reloaded = new Y.Doc()
  Y.transact(reloaded, () => stored!.updates.forEach((u) => Y.applyUpdate(reloaded, u)))
  assert.equal(structure(reloaded), structure(late.doc), 'the store holds another structure than the clients')
  assert.deepEqual([...a.closeCodes, ...b.closeCodes], [])
  reloaded.destroy()
})

test('4. live: honest clients resending whole states, after offline edits and reconnects, are never refused (seeded)', async (t) => {
  const cleanup = new Cleanup(t)
  const rng = seededRng(t)
  const server = await startServer(cleanup)
  const [a, b] = await room(cleanup, server)
  // A raw client that mirrors the room and resends its whole state both ways a client may.
  const mirror = new Y.Doc()
  cleanup.add(() => mirror.destroy())
  const raw = await RawClient.connect(cleanup, `${server.wsUrl}/${ROOM}`)
  let query = 0
  for (let round = 0; round < 6; round++) {
    // b edits offline, a edits online, both with emoji and formatting; then b comes back.
    b.provider.disconnect()
    for (let i = 0; i < 5; i++) {
      b.text.insert(rng.int(b.text.length + 1), rng.pick(['😀', 'é', rng.word()]))
      a.text.insert(rng.int(a.text.length + 1), rng.word(), rng.float() < 0.3 ? { bold: true } : undefined)
      if (a.text.length > 3 && rng.float() < 0.3) a.text.delete(rng.int(a.text.length - 1), 1)
    }
    b.provider.connect()
    await synced(b, `round ${round}: b's reconnect`)
    await converged([a, b])
    // The mirror takes everything, then sends it all back as sync step 2 and as an update.
    for (const frame of raw.frames.splice(0)) if (frame.kind === 'sync-step2' || frame.kind === 'update') Y.applyUpdate(mirror, frame.update)
    Y.applyUpdate(mirror, Y.encodeStateAsUpdate(a.doc))
    const whole = Y.encodeStateAsUpdate(mirror)
    await sendAndWait(raw, [encodeSyncStep2(whole), encodeUpdate(whole)], ++query)
    assert.equal(raw.isClosed, false, `round ${round}: the mirror resending the whole state was closed`)
  }
  await converged([a, b])
  assert.deepEqual([...a.closeCodes, ...b.closeCodes], [], 'an honest client was closed')
  assert.equal(server.logs.filter((line) => /closing connection/.test(line)).length, 0, server.logs.join('\n'))
})
