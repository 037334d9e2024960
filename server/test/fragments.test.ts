/**
 * Messages in many pieces (frame-counter.ts, connection.ts, limits.ts maxFragments): a client
 * that sends one message as a flood of tiny fragments pays for each fragment out of its rate
 * budget (4429 far past it), a message trickled in more pieces than maxFragments is refused by
 * `ws` (1008), and a message in a few pieces, with a ping between them, is handled as any other.
 * The fragments are written byte for byte over plain TCP; the room's other clients carry on.
 * And the reverse: many messages in one write reach the room together (connection.ts), and a
 * malformed one among them ends the connection after those before it, never before.
 */
import assert from 'node:assert/strict'
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import { FrameCounter } from '../src/frame-counter.js'
import { maxFragments, RateBudget } from '../src/limits.js'
import { encodeUpdate } from '../src/protocol.js'
import { Cleanup } from './helpers/cleanup.js'
import { stockClient, type StockClient } from './helpers/clients.js'
import { savedQuery } from './helpers/hostile.js'
import { TEXT_NAME } from '../src/room.js'
import { Editor } from './helpers/peers.js'
import { startServer, type TestServer } from './helpers/server.js'
import { clientFrame, fragmentedMessage, Opcode, TcpClient } from './helpers/tcp-client.js'
import { health } from './helpers/tokens.js'
import { waitFor } from './helpers/wait.js'
import { test } from './helpers/test.js'

const ROOM = 'fragments'

async function honestPair(cleanup: Cleanup, server: TestServer): Promise<[StockClient, StockClient]> {
  const a = await stockClient(cleanup, server.wsUrl, ROOM)
  const b = await stockClient(cleanup, server.wsUrl, ROOM)
  return [a, b]
}

/** The honest pair still edits both ways on its first connections, and the server answers. */
async function carriesOn(server: TestServer, a: StockClient, b: StockClient, mark: string): Promise<void> {
  a.text.insert(a.text.length, `<${mark}-a>`)
  await waitFor(() => b.text.toString().includes(`<${mark}-a>`), { message: () => `b has ${JSON.stringify(b.text.toString())}` })
  b.text.insert(b.text.length, `<${mark}-b>`)
  await waitFor(() => a.text.toString().includes(`<${mark}-b>`), { message: () => `a has ${JSON.stringify(a.text.toString())}` })
  assert.deepEqual([...a.closeCodes, ...b.closeCodes], [], 'an honest client lost its connection')
  assert.equal((await health(server.httpUrl)).status, 200)
}

/** An update message inserting `text` at the start, from a client id of its own. */
function insertMessage(clientID: number, text: string): Uint8Array {
  const author = new Editor(clientID)
  try {
    return encodeUpdate(author.insert(0, text))
  } finally {
    author.destroy()
  }
}

async function joined(cleanup: Cleanup, server: TestServer): Promise<TcpClient> {
  const client = await TcpClient.connect(cleanup, server.port, `/ws/${ROOM}`)
  // The server's sync step 1 means the connection is attached to its room.
  await waitFor(() => client.frames.some((f) => f.opcode === Opcode.binary), { message: 'no sync step 1 from the server' })
  return client
}

test('1. FrameCounter counts fragments before a message’s last and control frames, across any chunk boundaries', () => {
  const stream = Buffer.concat([
    clientFrame(Opcode.binary, new Uint8Array(5)), // a whole message: not counted
    clientFrame(Opcode.binary, new Uint8Array(200), false), // 16-bit length, first piece: 1
    clientFrame(Opcode.ping, new Uint8Array(3)), // control frame between pieces: 2
    clientFrame(Opcode.continuation, new Uint8Array(0), false), // empty middle piece: 3
    clientFrame(Opcode.continuation, new Uint8Array(70_000)), // 64-bit length, last piece: not counted
    clientFrame(Opcode.pong, new Uint8Array(0)), // 4
    clientFrame(Opcode.binary, new Uint8Array(1)), // whole: not counted
  ])
  assert.equal(new FrameCounter().count(stream), 4)
  for (const size of [1, 2, 3, 7, 13, 1000]) {
    const counter = new FrameCounter()
    let total = 0
    for (let at = 0; at < stream.length; at += size) total += counter.count(stream.subarray(at, at + size))
    assert.equal(total, 4, `in chunks of ${size} bytes`)
  }
  // A header split right after its first byte, then the rest.
  const counter = new FrameCounter()
  const piece = clientFrame(Opcode.binary, new Uint8Array(130), false)
  assert.equal(counter.count(piece.subarray(0, 1)), 0)
  assert.equal(counter.count(piece.subarray(1)), 1)
  assert.equal(counter.count(clientFrame(Opcode.continuation, new Uint8Array(1))), 0)
})

test('2. maxFragments: 4096 at 4 MiB messages (pieces of 1 KiB on average), never below 64; a frame costs a message', () => {
  assert.equal(maxFragments(4 * 2 ** 20), 4096)
  assert.equal(maxFragments(65_536), 64)
  assert.equal(maxFragments(1024), 64)

  const budget = new RateBudget({ messagesPerSecond: 100, bytesPerSecond: 100, maxMessageBytes: 1024 }, 0)
  assert.equal(budget.chargeFrames(1000, 0), 0, 'the burst: 10 s of messages')
  assert.equal(budget.chargeFrames(200, 0), 2, '200 frames more: 2 s ahead')
  assert.equal(budget.charge(0, 0), 2.01, 'and the message they end is one more')
})

test('3. one message as 100,000 one-byte fragments: closed with 4429 before it is handled; the room carries on', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const [a, b] = await honestPair(cleanup, server)
  const flooder = await joined(cleanup, server)

  // A valid update, so that had it been handled its text would show up in the room.
  const flood = 'F'.repeat(100_000)
  const message = insertMessage(4242, flood)
  assert.ok(message.length >= 100_000)
  const started = performance.now()
  await flooder.write(fragmentedMessage(message, message.length))
  await waitFor(() => flooder.closeCode !== null, { message: 'the flooder got no close frame' })
  t.diagnostic(`closed ${flooder.closeCode} after ${(performance.now() - started).toFixed(0)} ms`)
  assert.equal(flooder.closeCode, 4429)

  await carriesOn(server, a, b, 'after')
  assert.ok(!a.text.toString().includes('FFFF'), 'the fragmented message was handled')
  await waitFor(() => server.server.stats().connections === 2, { message: 'the flooder is still counted' })
  assert.ok(
    server.logs.some((line) => /closing connection/.test(line) && /RATE_LIMITED/.test(line)),
    'no RATE_LIMITED close was logged',
  )
})

test('4. with a generous rate, a message in more than maxFragments pieces is refused by ws with 1008; one at the bound passes', async (t) => {
  const cleanup = new Cleanup(t)
  // 64 KiB messages: at most 64 pieces. The rate is out of the way, so ws's bound is what acts.
  const server = await startServer(cleanup, { env: { MAX_MESSAGE_BYTES: '65536', MESSAGES_PER_SECOND: '1000000' } })
  const [a, b] = await honestPair(cleanup, server)
  const bound = maxFragments(65_536)

  const atBound = await joined(cleanup, server)
  await atBound.write(fragmentedMessage(insertMessage(5001, '<at-bound>'), bound))
  await waitFor(() => b.text.toString().includes('<at-bound>'), { message: `a message in ${bound} pieces was not handled` })
  assert.equal(atBound.closeCode, null)

  const over = await joined(cleanup, server)
  await over.write(fragmentedMessage(insertMessage(5002, '<over-bound>'), bound + 1))
  await waitFor(() => over.closeCode !== null, { message: 'no close frame for a message in too many pieces' })
  assert.equal(over.closeCode, 1008)
  await carriesOn(server, a, b, 'after')
  assert.ok(!b.text.toString().includes('<over-bound>'), 'the message in too many pieces was handled')
  assert.equal(atBound.closeCode, null, 'the client at the bound was closed too')
})

test('5. at the default limits, messages in a few pieces with a ping between them are handled and answered', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const [a, b] = await honestPair(cleanup, server)
  const client = await joined(cleanup, server)

  const update = insertMessage(6001, '<in-pieces>')
  const third = Math.ceil(update.length / 3)
  await client.write(
    Buffer.concat([
      clientFrame(Opcode.binary, update.subarray(0, third), false),
      clientFrame(Opcode.ping, new Uint8Array([1, 2])),
      clientFrame(Opcode.continuation, update.subarray(third, 2 * third), false),
      clientFrame(Opcode.continuation, update.subarray(2 * third)),
      // savedQuery(7) in two pieces: answered once the update is stored.
      fragmentedMessage(savedQuery(7), 2),
    ]),
  )
  await waitFor(() => b.text.toString().includes('<in-pieces>'), { message: 'the update in three pieces was not relayed' })
  await waitFor(() => client.frames.some((f) => f.opcode === Opcode.pong), { message: 'the ping between pieces got no pong' })
  await waitFor(() => client.frames.some((f) => f.opcode === Opcode.binary && f.payload.equals(Buffer.from([100, 7]))), {
    message: 'savedQuery(7) in two pieces was not answered',
  })
  assert.equal(client.closeCode, null)
  await carriesOn(server, a, b, 'after')
  assert.equal(server.logs.filter((line) => /closing connection/.test(line)).length, 0, server.logs.join('\n'))
})

test('6. many messages in one write: those before a malformed one are applied, stored and relayed; it closes with 4400; none after it', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const [a, b] = await honestPair(cleanup, server)
  const client = await joined(cleanup, server)

  // One author's keystrokes, each its own update: the server gets them in one read and applies
  // the run in one transaction (room.ts, handleAll).
  const author = new Editor(6002)
  cleanup.add(() => author.destroy())
  const before = Array.from('<in-one-read>', (ch, i) => encodeUpdate(author.insert(i, ch)))
  const expected = author.text.toString()
  const after = Array.from('<after-bad>', (ch, i) => encodeUpdate(author.insert(expected.length + i, ch)))
  // A sync update whose payload claims more bytes than the frame holds.
  const malformed = new Uint8Array([0, 2, 50, 1, 2])
  await client.write(Buffer.concat([...before, malformed, ...after].map((m) => clientFrame(Opcode.binary, m))))

  await waitFor(() => client.closeCode !== null, { message: 'the sender was not closed' })
  assert.equal(client.closeCode, 4400)
  await waitFor(() => b.text.toString().includes(expected), { message: () => `b has ${JSON.stringify(b.text.toString())}` })
  await carriesOn(server, a, b, 'after')
  assert.ok(!b.text.toString().includes('<after-bad>'), 'an update after the malformed frame was applied')
  const res = await fetch(`${server.httpUrl}/api/docs/${encodeURIComponent(ROOM)}/text`)
  const stored = await res.text()
  assert.ok(stored.includes(expected) && !stored.includes('<after-bad>'), `the server holds ${JSON.stringify(stored)}`)
})

test('6b. the messages of one write reach the room together once ws has parsed them all: another client gets one update', async (t) => {
  const cleanup = new Cleanup(t)
  const server = await startServer(cleanup)
  const observer = await joined(cleanup, server)
  const writer = await joined(cleanup, server)
  const author = new Editor(6003)
  cleanup.add(() => author.destroy())
  // Keystrokes sent one by one, as a fast typist's client does, arriving in one read of the
  // server's socket: handled as one run (room.ts, handleAll), relayed as one update.
  const typed = 'in-one-read'
  await writer.write(Buffer.concat(Array.from(typed, (ch, i) => clientFrame(Opcode.binary, encodeUpdate(author.insert(i, ch))))))

  const seen = new Y.Doc()
  cleanup.add(() => seen.destroy())
  const updates = () => {
    const out: Uint8Array[] = []
    for (const frame of observer.frames) {
      if (frame.opcode !== Opcode.binary) continue
      const decoder = decoding.createDecoder(frame.payload)
      if (decoding.readVarUint(decoder) === 0 && decoding.readVarUint(decoder) === 2) out.push(decoding.readVarUint8Array(decoder))
    }
    return out
  }
  await waitFor(
    () => {
      for (const update of updates()) Y.applyUpdate(seen, update)
      return seen.getText(TEXT_NAME).toString() === typed
    },
    { message: () => `the observer has ${JSON.stringify(seen.getText(TEXT_NAME).toString())}` },
  )
  assert.equal(updates().length, 1, `relayed as ${updates().length} updates`)
})
