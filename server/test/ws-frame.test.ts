/**
 * Messages framed by Tandem itself (ws-frame.ts) rather than by ws.send: a stock ws client on a
 * real socket must read every size (each length encoding, either side of the copy limit), frames
 * sent together in one write, and one message framed once and sent to several sockets.
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { WebSocket, WebSocketServer } from 'ws'
import { Connection } from '../src/connection.js'
import { silentLogger } from '../src/log.js'
import { binaryFrame, COPY_MAX_BYTES, frameHeader, joinedFrames } from '../src/ws-frame.js'
import { Cleanup } from './helpers/cleanup.js'
import { seededRng } from './helpers/random.js'
import { waitFor } from './helpers/wait.js'
import { test } from './helpers/test.js'

const SIZES = [0, 1, 125, 126, 127, 65_535, 65_536, COPY_MAX_BYTES, COPY_MAX_BYTES + 1, 200_000]

/** A ws server whose sockets are Tandem connections, and clients that record what they read. */
async function setup(cleanup: Cleanup, clients: number) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
  cleanup.add(() => new Promise<void>((resolve) => wss.close(() => resolve())))
  const connections: Connection[] = []
  wss.on('connection', (ws: WebSocket, req: http.IncomingMessage) => {
    connections.push(new Connection(ws, { id: connections.length, room: 'r', remote: 'test', log: silentLogger, socket: req.socket }))
  })
  await new Promise((resolve) => wss.once('listening', resolve))
  const { port } = wss.address() as { port: number }
  const received: Uint8Array[][] = []
  for (let i = 0; i < clients; i++) {
    const client = new WebSocket(`ws://127.0.0.1:${port}`)
    cleanup.add(() => client.terminate())
    const got: Uint8Array[] = []
    received.push(got)
    client.on('message', (data: Buffer) => got.push(new Uint8Array(data)))
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject))
  }
  await waitFor(() => connections.length === clients, { message: 'the server did not see every client' })
  return { connections, received }
}

test('1. every length encoding and both sides of the copy limit reach a stock client intact', async (t) => {
  const cleanup = new Cleanup(t)
  const rng = seededRng(t)
  const { connections, received } = await setup(cleanup, 1)
  const messages = SIZES.map((size) => Uint8Array.from({ length: size }, () => rng.int(256)))
  for (const message of messages) connections[0]!.send(message)
  await waitFor(() => received[0]!.length === messages.length, { message: () => `got ${received[0]!.length} of ${messages.length}` })
  received[0]!.forEach((got, i) => assert.deepEqual(got, messages[i], `message of ${SIZES[i]} bytes`))
})

test('2. frames sent together leave joined in one buffer (corked when one is large), the same buffer for every socket', async (t) => {
  const cleanup = new Cleanup(t)
  const { connections, received } = await setup(cleanup, 3)
  const update = new Uint8Array([0, 2, 1, 2, 3])
  const cursor = new Uint8Array(300).fill(7)
  const large = new Uint8Array(COPY_MAX_BYTES + 1).fill(9)
  // One list for every socket, as the room hands it to every peer of a delivery.
  const pair = [update, cursor]
  // A message too large to copy: this pair goes corked instead of joined.
  const withLarge = [large, update]
  for (const conn of connections) {
    conn.sendMany(pair)
    conn.sendMany(withLarge)
  }
  await waitFor(() => received.every((got) => got.length === 4), { message: 'not every client got all four frames' })
  for (const got of received) assert.deepEqual(got, [update, cursor, large, update])
  assert.equal(binaryFrame(update), binaryFrame(update), 'framed once, not per socket')
  const joined = joinedFrames(pair)
  assert.equal(joinedFrames(pair), joined, 'a list joined once for every socket')
  assert.deepEqual(joined, Buffer.concat([binaryFrame(update)!, binaryFrame(cursor)!]))
  assert.deepEqual(joinedFrames([cursor, update]), Buffer.concat([binaryFrame(cursor)!, binaryFrame(update)!]), 'another order, other bytes')
  assert.equal(joinedFrames(withLarge), null)
})

test('3. headers: the shortest length encoding RFC 6455 allows, never masked', () => {
  assert.deepEqual([...frameHeader(125)], [0x82, 125])
  assert.deepEqual([...frameHeader(126)], [0x82, 126, 0, 126])
  assert.deepEqual([...frameHeader(65_535)], [0x82, 126, 0xff, 0xff])
  assert.deepEqual([...frameHeader(65_536)], [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0])
  assert.deepEqual([...binaryFrame(new Uint8Array([9]))!], [0x82, 1, 9])
  assert.equal(binaryFrame(new Uint8Array(COPY_MAX_BYTES + 1)), null)
})
