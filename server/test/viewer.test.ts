/**
 * Viewers (a token with role viewer, or with no role): they receive the document and every live
 * change, and their presence is shown, but none of their document updates is ever applied,
 * stored or relayed, whether they come as live updates, as the sync step 2 a stock client sends
 * with its offline edits, or as raw frames.
 */
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { encodeSyncStep2, encodeUpdate } from '../src/protocol.js'
import { SqliteStore } from '../src/store/sqlite.js'
import { TEXT_NAME } from '../src/room.js'
import { Cleanup } from './helpers/cleanup.js'
import { RawClient, stockClient, type StockClient } from './helpers/clients.js'
import { savedQuery } from './helpers/hostile.js'
import { Editor, textOf } from './helpers/peers.js'
import { startServer } from './helpers/server.js'
import { SECRET, token } from './helpers/tokens.js'
import { waitFor } from './helpers/wait.js'
import { test } from './helpers/test.js'

const ROOM = 'read only'

function userOf(client: StockClient, clientID: number): string | undefined {
  return (client.provider.awareness.getStates().get(clientID) as { user?: { name?: string } } | undefined)?.user?.name
}

/** Whether `doc` holds any struct made by one of `clientIDs`. */
function holdsFrom(doc: Y.Doc, clientIDs: readonly number[]): boolean {
  return clientIDs.some((id) => Y.getState(doc.store, id) > 0)
}

test('1. a viewer gets the document and live changes, shows its presence, and changes nothing (relay, API, store, restart)', async (t) => {
  const cleanup = new Cleanup(t)
  const dir = cleanup.tempDir()
  const store = SqliteStore.open(dir, { synchronous: 'normal' })
  cleanup.add(() => store.close())
  const env = { AUTH_SECRET: SECRET }
  const server = await startServer(cleanup, { store, env })
  const editorToken = await token({ doc: ROOM, role: 'editor' })
  const a = await stockClient(cleanup, server.wsUrl, ROOM, { params: { token: editorToken } })
  const b = await stockClient(cleanup, server.wsUrl, ROOM, { params: { token: editorToken } })
  a.text.insert(0, 'before the viewer')
  await waitFor(() => b.text.toString() === 'before the viewer', { message: 'b never saw a' })

  // A stock client with offline edits, connecting as a viewer: its sync step 2 carries them.
  const offline = new Y.Doc()
  offline.getText(TEXT_NAME).insert(0, 'OFFLINE EDIT ')
  const viewer = await stockClient(cleanup, server.wsUrl, ROOM, { doc: offline, params: { token: await token({ doc: ROOM, role: 'viewer' }) } })
  // A token without a role is a viewer too; this one speaks raw frames.
  const raw = await RawClient.connect(cleanup, `${server.wsUrl}/${encodeURIComponent(ROOM)}?token=${await token({ doc: '*' })}`)
  await raw.waitFrame('sync-step1')
  const rawEditor = new Editor(31337)
  cleanup.add(() => rawEditor.destroy())

  // It received the document...
  await waitFor(() => viewer.text.toString().includes('before the viewer'), { message: () => `viewer has ${JSON.stringify(viewer.text.toString())}` })
  // ...and its presence reaches the others.
  viewer.provider.awareness.setLocalStateField('user', { name: 'Vi' })
  await waitFor(() => userOf(a, viewer.doc.clientID) === 'Vi', { message: 'a never saw the viewer’s presence' })

  // It edits, live and raw, as a sync step 2 and as updates; then announces itself again, so
  // that once the others see that, the server has handled every frame it sent before.
  viewer.text.insert(0, 'LIVE EDIT ')
  viewer.text.delete(viewer.text.length - 3, 3)
  raw.send(encodeUpdate(rawEditor.insert(0, 'RAW UPDATE ')))
  raw.send(encodeSyncStep2(Y.encodeStateAsUpdate(rawEditor.doc)))
  raw.send(savedQuery(1))
  await raw.waitFrame('saved', (f) => f.id === 1)
  viewer.provider.awareness.setLocalStateField('user', { name: 'Vi again' })
  await waitFor(() => userOf(b, viewer.doc.clientID) === 'Vi again', { message: 'b never saw the viewer’s second presence' })
  // An editor's change after all that: had anything of the viewers been relayed, it came first.
  b.text.insert(b.text.length, ' + after')
  await waitFor(() => a.text.toString() === 'before the viewer + after', { message: () => `a has ${JSON.stringify(a.text.toString())}` })
  // (Its own text differs: it keeps its dropped edits locally, ordered among the others' by
  // client id, so only whole items can be looked for.)
  await waitFor(() => viewer.text.toString().includes(' + after'), { message: () => `the viewer missed a live change: ${JSON.stringify(viewer.text.toString())}` })

  const viewers = [viewer.doc.clientID, rawEditor.doc.clientID]
  for (const editor of [a, b]) assert.equal(holdsFrom(editor.doc, viewers), false, 'an editor holds a viewer’s struct')
  assert.equal(a.text.toString(), 'before the viewer + after')
  assert.deepEqual(raw.frames.filter((f) => f.kind === 'update' && textOf([f.update]).includes('RAW')), [])
  // Dropping is silent: nobody was disconnected.
  assert.equal(raw.isClosed, false)
  for (const client of [a, b, viewer]) assert.deepEqual(client.closeCodes, [])

  const api = await fetch(`${server.httpUrl}/api/docs/${encodeURIComponent(ROOM)}/text?token=${editorToken}`)
  assert.equal(await api.text(), 'before the viewer + after')

  // What is stored holds nothing of theirs, and a restart serves the same.
  for (const client of [a, b, viewer]) client.destroy()
  await server.close()
  await store.close()
  const reopened = SqliteStore.open(dir, { synchronous: 'normal' })
  cleanup.add(() => reopened.close())
  const stored = await reopened.load(ROOM)
  assert.ok(stored, 'nothing stored')
  const storedDoc = new Y.Doc()
  stored.updates.forEach((u) => Y.applyUpdate(storedDoc, u))
  assert.equal(storedDoc.getText(TEXT_NAME).toString(), 'before the viewer + after')
  assert.equal(holdsFrom(storedDoc, viewers), false, 'the store holds a viewer’s struct')
  storedDoc.destroy()
  const restarted = await startServer(cleanup, { store: reopened, env })
  const late = await stockClient(cleanup, restarted.wsUrl, ROOM, { params: { token: editorToken } })
  assert.equal(late.text.toString(), 'before the viewer + after')
})

test('2. the viewer keeps following: changes made after its edits were dropped still reach it', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup, { env: { AUTH_SECRET: SECRET } })
  const editor = await stockClient(cleanup, server.wsUrl, ROOM, { params: { token: await token({ doc: ROOM, role: 'editor' }) } })
  const viewer = await stockClient(cleanup, server.wsUrl, ROOM, { params: { token: await token({ doc: ROOM, role: 'viewer' }) } })
  for (let i = 0; i < 20; i++) {
    viewer.text.insert(0, `v${i}`)
    editor.text.insert(editor.text.length, `e${i} `)
  }
  const expected = Array.from({ length: 20 }, (_, i) => `e${i} `).join('')
  const editorClock = () => Y.getState(editor.doc.store, editor.doc.clientID)
  await waitFor(() => Y.getState(viewer.doc.store, editor.doc.clientID) === editorClock(), { message: () => `viewer has ${JSON.stringify(viewer.text.toString())}` })
  assert.equal(editor.text.toString(), expected)
  // The viewer's own (dropped) tokens sit among the editor's, never inside one of them.
  assert.equal(viewer.text.toString().replace(/v\d+/g, ''), expected)
  // The editor's own state vector holds only its own client: nothing of the viewer reached it.
  assert.deepEqual(Array.from(Y.decodeStateVector(Y.encodeStateVector(editor.doc)).keys()), [editor.doc.clientID])
})
