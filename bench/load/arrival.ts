/**
 * A `ws` WebSocket for the load processes that notes when its bytes arrive, apart from when they
 * are decoded.
 *
 * Hundreds of clients share one load process, and a provider decodes a frame (applies the
 * update, parses the awareness JSON) inside the socket's 'data' event. Read that way, the frames
 * of reader k wait until the process has decoded those of readers 1 to k-1, and the latency
 * measured is mostly the load process's own queue, whose length depends on how the server
 * orders its writes rather than on how soon it makes them. Here every socket's data is stamped
 * with the clock as it is read, and decoded later, one chunk per event-loop turn, so that the
 * process goes back to reading sockets between two decodes. A keystroke's latency ends at the
 * stamp of the chunk that carried it (arrivedAt) - the moment it reached the reader's machine,
 * as it would on a network where every reader has one of its own.
 */
import type { Duplex } from 'node:stream'
import WebSocket from 'ws'
import { clock } from './clock.js'

type OnData = (this: Duplex, chunk: Buffer) => void

interface Chunk {
  readonly ws: StampedWebSocket
  readonly socket: Duplex
  readonly data: Buffer
  readonly at: number
  readonly decode: readonly OnData[]
  done: boolean
}

/** Chunks read and not yet decoded, every socket's, in the order they were read. */
const inbox: Chunk[] = []
let head = 0
let scheduled = false

function schedule(): void {
  if (scheduled) return
  scheduled = true
  setImmediate(decodeNext)
}

/** Decodes one chunk, then lets the loop poll the sockets again before the next. */
function decodeNext(): void {
  scheduled = false
  while (head < inbox.length && inbox[head]!.done) head++
  if (head < inbox.length) decode(inbox[head++]!)
  if (head === inbox.length) {
    inbox.length = 0
    head = 0
  } else schedule()
}

function decode(chunk: Chunk): void {
  chunk.done = true
  chunk.ws.arrivedAt = chunk.at
  try {
    for (const onData of chunk.decode) onData.call(chunk.socket, chunk.data)
  } finally {
    chunk.ws.arrivedAt = NaN
  }
}

export class StampedWebSocket extends WebSocket {
  /** clock() when the chunk being decoded now was read; NaN outside a decode. */
  arrivedAt = NaN

  // ws calls this once the handshake is done, with its own 'data' listener; it is taken off the
  // socket and called from the inbox instead.
  setSocket(socket: Duplex, headBytes: Buffer, options: object): void {
    ;(WebSocket.prototype as unknown as { setSocket(s: Duplex, h: Buffer, o: object): void }).setSocket.call(this, socket, headBytes, options)
    const decodeData = socket.listeners('data') as OnData[]
    socket.removeAllListeners('data')
    socket.on('data', (data: Buffer) => {
      inbox.push({ ws: this, socket, data, at: clock(), decode: decodeData, done: false })
      schedule()
    })
    // What was read before the socket ended is decoded before ws handles the end, in order.
    const catchUp = () => {
      for (let i = head; i < inbox.length; i++) if (inbox[i]!.socket === socket && !inbox[i]!.done) decode(inbox[i]!)
    }
    socket.prependListener('end', catchUp)
    socket.prependListener('close', catchUp)
  }
}
