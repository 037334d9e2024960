/**
 * A WebSocket client at the byte level over plain TCP: it writes frames exactly as a test builds
 * them (a message in any number of fragments, control frames between them), which `ws`'s own
 * client never does, and reads the server's frames, its close frame included.
 */
import net from 'node:net'
import type { Cleanup } from './cleanup.js'
import { within } from './wait.js'

export const Opcode = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const

/** Clients must mask; any key will do, and a non-zero one makes the server really unmask. */
const MASK = [0x37, 0xfa, 0x21, 0x3d]

/** One client frame (RFC 6455 section 5.2): header, extended length, mask, masked payload. */
export function clientFrame(opcode: number, payload: Uint8Array, fin = true): Buffer {
  const length = payload.length
  const extended = length < 126 ? 0 : length < 65536 ? 2 : 8
  const out = Buffer.alloc(2 + extended + 4 + length)
  out[0] = (fin ? 0x80 : 0) | opcode
  out[1] = 0x80 | (extended === 0 ? length : extended === 2 ? 126 : 127)
  if (extended === 2) out.writeUInt16BE(length, 2)
  if (extended === 8) out.writeBigUInt64BE(BigInt(length), 2)
  const at = 2 + extended
  out.set(MASK, at)
  for (let i = 0; i < length; i++) out[at + 4 + i] = payload[i]! ^ MASK[i % 4]!
  return out
}

/** A binary message as `pieces` fragments (the last one takes the remainder); pieces >= 1. */
export function fragmentedMessage(message: Uint8Array, pieces: number): Buffer {
  const size = Math.ceil(message.length / pieces)
  const frames: Buffer[] = []
  for (let i = 0; i < pieces; i++) {
    const part = message.subarray(Math.min(i * size, message.length), Math.min((i + 1) * size, message.length))
    frames.push(clientFrame(i === 0 ? Opcode.binary : Opcode.continuation, part, i === pieces - 1))
  }
  return Buffer.concat(frames)
}

export interface ServerFrameBytes {
  readonly opcode: number
  readonly payload: Buffer
}

export class TcpClient {
  readonly socket: net.Socket
  /** Every complete frame the server sent after the upgrade, in order. */
  readonly frames: ServerFrameBytes[] = []
  /** The close code the server sent, once its close frame arrived. */
  closeCode: number | null = null
  private pending = Buffer.alloc(0)

  private constructor(socket: net.Socket) {
    this.socket = socket
  }

  /** Opens a TCP connection, sends the upgrade for `path` and waits for 101. */
  static async connect(cleanup: Cleanup, port: number, path: string): Promise<TcpClient> {
    const socket = net.connect(port, '127.0.0.1')
    socket.on('error', () => {}) // a reset after the server closes is expected, not a failure
    cleanup.add(() => socket.destroy())
    const client = new TcpClient(socket)
    await within(
      new Promise<void>((resolve, reject) => {
        let head = ''
        const onData = (chunk: Buffer) => {
          head += chunk.toString('latin1')
          const end = head.indexOf('\r\n\r\n')
          if (end < 0) return
          socket.off('data', onData)
          if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`))
          socket.on('data', (more: Buffer) => client.read(more))
          client.read(Buffer.from(head.slice(end + 4), 'latin1'))
          resolve()
        }
        socket.on('data', onData)
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        )
      }),
      { message: `no 101 for ${path}` },
    )
    return client
  }

  /** Writes bytes and resolves once the kernel has taken them (or the socket has gone). */
  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve()
      this.socket.write(bytes, () => resolve())
    })
  }

  /** Server frames are unmasked: header, extended length, payload. */
  private read(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk])
    for (;;) {
      if (this.pending.length < 2) return
      const short = this.pending[1]! & 0x7f
      const extended = short === 126 ? 2 : short === 127 ? 8 : 0
      if (this.pending.length < 2 + extended) return
      const length = extended === 2 ? this.pending.readUInt16BE(2) : extended === 8 ? Number(this.pending.readBigUInt64BE(2)) : short
      if (this.pending.length < 2 + extended + length) return
      const opcode = this.pending[0]! & 0x0f
      const payload = this.pending.subarray(2 + extended, 2 + extended + length)
      this.pending = this.pending.subarray(2 + extended + length)
      this.frames.push({ opcode, payload })
      if (opcode === Opcode.close) this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005
    }
  }
}
