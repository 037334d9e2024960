/**
 * Building blocks for hostile clients: raw varints and awareness updates written by hand (so a
 * test can say anything the encoding allows, not only what y-protocols would produce), and a
 * way to measure memory that does not drift with garbage left over from earlier work.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import * as encoding from 'lib0/encoding'
import { encodeAwareness, encodeSyncStep1, encodeUpdate, MessageType } from '../../src/protocol.js'

/** lib0's varUint, for any safe integer (lib0 itself writes up to 2^53 too). */
export function varUint(n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return out
}

/** savedQuery(n) := varUint(100) • varUint(n): answered once what came before is stored. */
export function savedQuery(n: number): Uint8Array {
  return new Uint8Array([MessageType.saved, ...varUint(n)])
}

export interface AwarenessEntry {
  readonly client: number
  readonly clock: number
  /** The state as JSON text; 'null' removes it. */
  readonly json: string
}

/** An awareness update, n • (client • clock • varString(json))^n, with any JSON text as written. */
export function awarenessUpdate(entries: readonly AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, entries.length)
  for (const { client, clock, json } of entries) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, clock)
    encoding.writeVarString(encoder, json)
  }
  return encoding.toUint8Array(encoder)
}

/** An awareness message: varUint(1) • varByteArray(awarenessUpdate). */
export function awarenessFrame(entries: readonly AwarenessEntry[]): Uint8Array {
  return encodeAwareness(awarenessUpdate(entries))
}

/**
 * A Yjs V1 update that declares one client with `structs` structs and then ends: Yjs's
 * applyUpdate sizes an array by that count before reading a byte of them.
 */
export function hugeStructCount(structs: number): Uint8Array {
  return new Uint8Array([1, ...varUint(structs), 0, 0])
}

/**
 * An over-long varUint that lib0 reads as Infinity: it checks the range only while more bytes
 * follow, and 7 * 128^146 overflows. lib0's writeVarUint(Infinity) never returns.
 */
export const INFINITE_VARUINT: readonly number[] = [...Array<number>(146).fill(0x80), 7]

const varString = (text: string): number[] => {
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, text)
  return Array.from(encoding.toUint8Array(encoder))
}

/**
 * Frames with INFINITE_VARUINT where a number goes, and the close code each must get (null: it
 * is harmless and served). A Yjs V1 update is numClients • (numStructs • client • clock •
 * structs)* • deleteSet; a struct's info byte 4 is a string item, 0 a GC, 1 a deleted item.
 */
export function infiniteNumberFrames(): Array<{ title: string; frame: Uint8Array; close: number | null }> {
  const INF = INFINITE_VARUINT
  const text = varString('codemirror')
  const update = (...bytes: number[]) => encodeUpdate(new Uint8Array(bytes))
  return [
    { title: 'savedQuery id', frame: new Uint8Array([MessageType.saved, ...INF]), close: 4400 },
    { title: 'presence clock', frame: encodeAwareness(new Uint8Array([1, 5, ...INF, ...varString('{}')])), close: 4400 },
    { title: 'presence client id', frame: encodeAwareness(new Uint8Array([1, ...INF, 1, ...varString('{}')])), close: 4400 },
    { title: 'update client id', frame: update(1, 1, ...INF, 0, 4, 1, ...text, 1, 120, 0), close: 4422 },
    { title: 'update clock', frame: update(1, 1, 5, ...INF, 4, 1, ...text, 1, 120, 0), close: 4422 },
    { title: 'GC length', frame: update(1, 1, 6, 0, 0, ...INF, 0), close: 4422 },
    { title: 'deleted item length', frame: update(1, 1, 7, 0, 1, 1, ...text, ...INF, 0), close: 4422 },
    { title: 'delete set length', frame: update(1, 1, 8, 0, 4, 1, ...text, 1, 120, 1, 8, 1, 0, ...INF), close: 4422 },
    { title: 'state vector clock', frame: encodeSyncStep1(new Uint8Array([1, 5, ...INF])), close: null },
  ]
}

let collect: (() => void) | null = null

/** Runs a full garbage collection (exposing `gc` once, as --expose-gc would). */
export function collectGarbage(): void {
  if (!collect) {
    v8.setFlagsFromString('--expose-gc')
    collect = vm.runInNewContext('gc') as () => void
  }
  collect()
}

/** Heap plus array buffers: what a decoded update or a buffered message costs. */
export function memoryInUse(): number {
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}
