/**
 * A message as the WebSocket frame that carries it (RFC 6455, section 5.2): FIN, binary opcode,
 * the payload's length, no mask (a server's frames are never masked), the payload. Those bytes
 * are the same for every recipient, so the room's relay of one message to many peers frames it
 * once and writes the same buffer to every socket, where `ws.send` would build a header, and a
 * list of two buffers to write, per peer. `ws` still frames everything else it sends (pings,
 * pongs, close frames); both write to the socket in call order, and nothing of `ws` queues
 * frames of its own while per-message compression is off (the server turns it off).
 */

/**
 * Past this size a message is not copied behind its header: the two are written as they are.
 * Keystrokes and cursors, the messages that go to many peers, are far smaller; larger ones are
 * mostly replies to one peer (a sync step 2, everyone's presence for a newcomer), for which a
 * copy would only add a large allocation.
 */
export const COPY_MAX_BYTES = 1024

// Keyed by the message itself: the room hands every peer the same Uint8Array. Weak, so a frame
// lives exactly as long as its message.
const framed = new WeakMap<Uint8Array, Buffer>()

/** The frame's header alone. */
export function frameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(headerBytes(length))
  writeHeader(header, 0, length)
  return header
}

function headerBytes(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10
}

/** Writes the header for a payload of `length` bytes at `at` in `target`; returns its size. */
function writeHeader(target: Buffer, at: number, length: number): number {
  target[at] = 0x82
  if (length < 126) {
    target[at + 1] = length
    return 2
  }
  if (length < 0x10000) {
    target[at + 1] = 126
    target.writeUInt16BE(length, at + 2)
    return 4
  }
  target[at + 1] = 127
  target.writeUInt16BE(0, at + 2)
  target.writeUIntBE(length, at + 4, 6)
  return 10
}

/**
 * Header and payload in one buffer, made once per message (up to COPY_MAX_BYTES; null past it:
 * write frameHeader() and the payload instead, rather than copy a large payload).
 */
export function binaryFrame(message: Uint8Array): Buffer | null {
  if (message.length > COPY_MAX_BYTES) return null
  let frame = framed.get(message)
  if (frame === undefined) {
    frame = Buffer.allocUnsafe(headerBytes(message.length) + message.length)
    frame.set(message, writeHeader(frame, 0, message.length))
    framed.set(message, frame)
  }
  return frame
}

// Keyed by the list: the room hands every peer that gets the same messages in one delivery the
// same list (Room.deliver), and never changes a list it has handed out. Null for a list with a
// message past COPY_MAX_BYTES.
const joined = new WeakMap<readonly Uint8Array[], Buffer | null>()

/**
 * Several messages' frames in one buffer, made once per list of messages: a keystroke and the
 * cursor after it go to every reader of a room as one list, so every reader gets the same
 * bytes, one write each. Null when a message is past COPY_MAX_BYTES.
 */
export function joinedFrames(messages: readonly Uint8Array[]): Buffer | null {
  let whole = joined.get(messages)
  if (whole !== undefined) return whole
  whole = join(messages)
  joined.set(messages, whole)
  return whole
}

/**
 * Each message's header and payload written straight into one buffer: not a frame of its own
 * per message first (binaryFrame), each remembered in a WeakMap and then copied again. A
 * keystroke and its cursor joined that way took 1.5-2.2 µs hot and 4-11 µs with the data caches
 * emptied, against 0.6-0.8 µs and 2-2.5 µs joined directly.
 */
function join(messages: readonly Uint8Array[]): Buffer | null {
  let size = 0
  for (const message of messages) {
    if (message.length > COPY_MAX_BYTES) return null
    size += headerBytes(message.length) + message.length
  }
  const whole = Buffer.allocUnsafe(size)
  let at = 0
  for (const message of messages) {
    at += writeHeader(whole, at, message.length)
    whole.set(message, at)
    at += message.length
  }
  return whole
}
