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

export class FrameCounter {
  // Plain numbers rather than a buffer for the header: a typed array costs far more heap than
  // the few bytes it would hold, and there is one counter per connection. The mask is skipped.
  /** The header's first byte (FIN, opcode) and second (mask bit, 7-bit length). */
  private first = 0
  private second = 0
  /** The payload length, accumulated from the extended length bytes when there are some. */
  private length = 0
  /** Header bytes read so far for the frame being read. */
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
      const byte = chunk[i++]!
      const at = this.have++
      if (at === 0) {
        this.first = byte
      } else if (at === 1) {
        this.second = byte
        const extended = extendedLengthBytes(byte)
        this.length = extended === 0 ? byte & 0x7f : 0
        this.need = 2 + extended + (byte & 0x80 ? 4 : 0)
      } else if (at < 2 + extendedLengthBytes(this.second)) {
        // Big-endian; past 2^53 this is approximate, and ws closes such a frame (1009) anyway.
        this.length = this.length * 256 + byte
      }
      if (this.have < this.need) continue
      const fin = (this.first & 0x80) !== 0
      const opcode = this.first & 0x0f
      // A data frame with FIN ends a message (ws emits it, and the budget charges it then).
      if (!fin || opcode >= 0x08) frames++
      this.skip = this.length
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
