/**
 * Counts, in the raw bytes a client sends, the WebSocket frames that `ws` does not report as a
 * message of their own: the pieces of a fragmented message before its last one, and control
 * frames (ping, pong, close). The rate budget charges messages when `ws` emits them; without
 * this count a client could send one message as tens of thousands of tiny (even empty)
 * fragments, each a frame for `ws` to parse and keep, for the price of one message.
 *
 * It reads only frame headers (RFC 6455, section 5.2) and skips payloads, so it costs a few
 * operations per frame. It never judges the bytes: `ws` validates the framing and closes the
 * connection on anything invalid, after which what this counts no longer matters.
 */

/** Longest header: 2 bytes, a 64-bit extended length, a 4-byte mask. */
const MAX_HEADER = 14

export class FrameCounter {
  private readonly header = new Uint8Array(MAX_HEADER)
  /** Header bytes collected so far for the frame being read. */
  private have = 0
  /** Header bytes this frame has (2 until its second byte says more). */
  private need = 2
  /** Payload bytes of the current frame still to skip. */
  private skip = 0

  /** Reads the next chunk of the stream; returns how many frames not reported as a message begin in it. */
  count(chunk: Uint8Array): number {
    let frames = 0
    let i = 0
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i)
        this.skip -= n
        i += n
        continue
      }
      this.header[this.have++] = chunk[i++]!
      if (this.have === 2) this.need = 2 + extendedLengthBytes(this.header[1]!) + (this.header[1]! & 0x80 ? 4 : 0)
      if (this.have < this.need) continue
      const fin = (this.header[0]! & 0x80) !== 0
      const opcode = this.header[0]! & 0x0f
      // A data frame with FIN ends a message (ws emits it, and the budget charges it then).
      if (!fin || opcode >= 0x08) frames++
      this.skip = payloadLength(this.header)
      this.have = 0
      this.need = 2
    }
    return frames
  }
}

function extendedLengthBytes(second: number): number {
  const length = second & 0x7f
  return length === 126 ? 2 : length === 127 ? 8 : 0
}

function payloadLength(header: Uint8Array): number {
  const length = header[1]! & 0x7f
  if (length === 126) return (header[2]! << 8) | header[3]!
  if (length === 127) {
    // Past 2^53 this is approximate; ws closes such a frame (1009) anyway.
    const high = ((header[2]! << 24) >>> 0) + (header[3]! << 16) + (header[4]! << 8) + header[5]!
    const low = ((header[6]! << 24) >>> 0) + (header[7]! << 16) + (header[8]! << 8) + header[9]!
    return high * 2 ** 32 + low
  }
  return length
}
