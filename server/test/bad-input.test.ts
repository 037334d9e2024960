/**
 * Bad input from one client: only that connection closes, with the documented code (see
 * docs/protocol.md); the other clients of the room keep editing, the server keeps serving, and
 * the stored document holds the honest clients' text and nothing of the bad frame.
 */
import assert from 'node:assert/strict'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { encodeAwareness, encodeSyncStep1, encodeUpdate } from '../src/protocol.js'
import { SqliteStore } from '../src/store/sqlite.js'
import { Cleanup } from './helpers/cleanup.js'
import { RawClient, stockClient } from './helpers/clients.js'
import { Editor, textOf } from './helpers/peers.js'
import { startServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'
import { test } from './helpers/test.js'

const MAX_MESSAGE_BYTES = 64 * 1024
const ROOM = 'shared room'

/** A real update for text `INJECTED`, cut inside its delete set (Yjs would half-apply it). */
function truncatedUpdate(): Uint8Array {
  const evil = new Editor(99)
  evil.insert(0, 'INJECTED')
  evil.delete(2, 3)
  const full = Y.encodeStateAsUpdate(evil.doc)
  evil.destroy()
  return full.subarray(0, full.length - 1)
}

/**
 * An update that decodes cleanly and whose every reference is there, yet Yjs throws while
 * integrating it: one item whose parent is the item itself. Only applying it finds that out,
 * which is why the server applies an update before it stores or relays it.
 */
function selfParentUpdate(): Uint8Array {
  const encoder = new Y.UpdateEncoderV1()
  encoding.writeVarUint(encoder.restEncoder, 1) // one client
  encoding.writeVarUint(encoder.restEncoder, 1) // with one struct
  encoder.writeClient(97)
  encoding.writeVarUint(encoder.restEncoder, 0) // from clock 0
  encoder.writeInfo(4) // an item with string content, no origins, its parent given by ID
  encoder.writeParentInfo(false)
  encoder.writeLeftID(Y.createID(97, 0)) // the parent: itself
  encoder.writeString('INJECTED')
  encoding.writeVarUint(encoder.restEncoder, 0) // an empty delete set
  return encoder.toUint8Array()
}

function validUpdate(text: string): Uint8Array {
  const e = new Editor(98)
  const update = e.insert(0, text)
  e.destroy()
  return update
}

interface Case {
  readonly title: string
  readonly bad: Uint8Array | string
  readonly closeCode: number
  /** The one server log line this must produce. */
  readonly log: RegExp
}

const cases: Case[] = [
  { title: 'garbage bytes', bad: new Uint8Array([0xde, 0xad, 0xbe, 0xef]), closeCode: 4400, log: /closing connection .*code=MALFORMED_MESSAGE/ },
  {
    title: 'a truncated frame',
    bad: encodeUpdate(validUpdate('INJECTED')).subarray(0, 6),
    closeCode: 4400,
    log: /closing connection .*code=MALFORMED_MESSAGE/,
  },
  { title: 'an unknown message type', bad: new Uint8Array([42, 0]), closeCode: 4400, log: /closing connection .*code=MALFORMED_MESSAGE/ },
  {
    title: 'an awareness update that does not decode',
    bad: encodeAwareness(new Uint8Array([5, 1])),
    closeCode: 4400,
    log: /closing connection .*code=MALFORMED_MESSAGE/,
  },
  {
    title: 'a sync step 1 with an invalid state vector',
    bad: encodeSyncStep1(new Uint8Array(11).fill(0xff)),
    closeCode: 4400,
    log: /closing connection .*code=MALFORMED_MESSAGE/,
  },
  { title: 'a text frame', bad: 'INJECTED', closeCode: 1003, log: /closing connection .*code=TEXT_FRAME/ },
  {
    title: 'an oversized frame (a valid update over MAX_MESSAGE_BYTES)',
    bad: encodeUpdate(validUpdate('INJECTED'.repeat(MAX_MESSAGE_BYTES / 8 + 1))),
    closeCode: 1009,
    log: /socket error .*code=WS_ERR_UNSUPPORTED_MESSAGE_LENGTH/,
  },
  {
    title: 'an update Yjs cannot apply (garbage)',
    bad: encodeUpdate(new Uint8Array(11).fill(0xff)),
    closeCode: 4422,
    log: /closing connection .*code=INVALID_UPDATE/,
  },
  {
    title: 'an update Yjs cannot apply (cut inside its delete set)',
    bad: encodeUpdate(truncatedUpdate()),
    closeCode: 4422,
    log: /closing connection .*code=INVALID_UPDATE/,
  },
  {
    title: 'an update that decodes, with every reference there, that Yjs throws on (its own parent)',
    bad: encodeUpdate(selfParentUpdate()),
    closeCode: 4422,
    log: /closing connection .*code=INVALID_UPDATE/,
  },
]

for (const [i, c] of cases.entries()) {
  test(`${i + 1}. ${c.title}: closes only that connection with ${c.closeCode}`, async (t) => {
    const cleanup = new Cleanup(t)
    const dir = cleanup.tempDir()
    const store = SqliteStore.open(dir, { synchronous: 'normal' })
    cleanup.add(() => store.close())
    const server = await startServer(cleanup, { store, env: { MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) } })
    const a = await stockClient(cleanup, server.wsUrl, encodeURIComponent(ROOM))
    const b = await stockClient(cleanup, server.wsUrl, encodeURIComponent(ROOM))
    a.text.insert(0, 'before')
    await waitFor(() => b.text.toString() === 'before', { message: 'b never saw a’s first edit' })

    const bad = await RawClient.connect(cleanup, `${server.wsUrl}/${encodeURIComponent(ROOM)}`)
    await bad.waitFrame('sync-step1')
    bad.send(c.bad)
    const closed = await bad.waitClosed({ message: 'the bad connection was not closed' })
    assert.equal(closed.code, c.closeCode, `close code (reason ${JSON.stringify(closed.reason)})`)

    // The honest clients carry on, both ways, on their original connections.
    a.text.insert(a.text.length, ' after')
    await waitFor(() => b.text.toString() === 'before after', { message: () => `b has ${JSON.stringify(b.text.toString())}` })
    b.text.insert(0, 'B: ')
    await waitFor(() => a.text.toString() === 'B: before after', { message: () => `a has ${JSON.stringify(a.text.toString())}` })
    assert.deepEqual(a.closeCodes, [], 'a lost its connection')
    assert.deepEqual(b.closeCodes, [], 'b lost its connection')

    // The server keeps serving: health, the API, and new clients.
    const health = async () => {
      const res = await fetch(`${server.httpUrl}/healthz`)
      return { status: res.status, ...((await res.json()) as { connections: number }) }
    }
    // The server may see the bad socket's end a moment after the client does.
    let last = await health()
    await waitFor(async () => (last = await health()).connections === 2, { message: () => `healthz: ${JSON.stringify(last)}` })
    assert.equal(last.status, 200)
    const api = await fetch(`${server.httpUrl}/api/docs/${encodeURIComponent(ROOM)}/text`)
    assert.equal(await api.text(), 'B: before after')
    const late = await stockClient(cleanup, server.wsUrl, encodeURIComponent(ROOM))
    assert.equal(late.text.toString(), 'B: before after')

    // Logged once, with its context.
    const lines = server.logs.filter((line) => c.log.test(line))
    assert.equal(lines.length, 1, `log lines matching ${c.log}:\n${server.logs.join('\n')}`)
    assert.match(lines[0]!, /room="shared room"/)

    // What is stored is the honest text, with nothing of the bad frame.
    for (const client of [a, b, late]) client.destroy()
    await server.close()
    await store.close()
    const reopened = SqliteStore.open(dir, { synchronous: 'normal' })
    try {
      const stored = await reopened.load(ROOM)
      assert.ok(stored, 'nothing stored')
      assert.equal(textOf(stored.updates), 'B: before after')
    } finally {
      await reopened.close()
    }
  })
}
