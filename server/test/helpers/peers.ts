/**
 * In-memory participants for room tests: a Peer that records what the room sends it, and an
 * editor (a client-side Y.Doc) that produces real Yjs updates to hand to the room.
 */
import * as Y from 'yjs'
import type { Peer } from '../../src/room.js'
import { TEXT_NAME } from '../../src/room.js'
import { decodeServerFrame, type ServerFrame } from './frames.js'

let nextPeerId = 1

export class RecordingPeer implements Peer {
  readonly id = nextPeerId++
  readonly frames: ServerFrame[] = []

  send(frame: Uint8Array): void {
    // Copy: the room may send one buffer to many peers; a peer must not rely on it staying put.
    this.frames.push(decodeServerFrame(frame.slice()))
  }

  of<K extends ServerFrame['kind']>(kind: K): Array<Extract<ServerFrame, { kind: K }>> {
    return this.frames.filter((f): f is Extract<ServerFrame, { kind: K }> => f.kind === kind)
  }

  clear(): void {
    this.frames.length = 0
  }
}

/**
 * A RecordingPeer whose send queue the test fills and drains: `backlog` is what the room reads
 * to decide the peer is behind, `drain()` empties it and tells whoever waits.
 */
export class SlowPeer extends RecordingPeer {
  backlog = 0
  private waiting: Array<() => void> = []

  onceDrained(callback: () => void): void {
    this.waiting.push(callback)
  }

  get drainAwaited(): boolean {
    return this.waiting.length > 0
  }

  drain(): void {
    this.backlog = 0
    const waiting = this.waiting
    this.waiting = []
    for (const callback of waiting) callback()
  }
}

/** A client document whose every local edit is returned as the Yjs update it produced. */
export class Editor {
  readonly doc: Y.Doc
  readonly text: Y.Text
  private last: Uint8Array | null = null

  constructor(clientID?: number) {
    this.doc = new Y.Doc()
    if (clientID !== undefined) this.doc.clientID = clientID
    this.text = this.doc.getText(TEXT_NAME)
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== 'remote') this.last = update
    })
  }

  insert(at: number, content: string): Uint8Array {
    this.text.insert(at, content)
    return this.take()
  }

  delete(at: number, length: number): Uint8Array {
    this.text.delete(at, length)
    return this.take()
  }

  /** Applies an update that came from the server (not re-captured as a local edit). */
  receive(update: Uint8Array): void {
    Y.applyUpdate(this.doc, update, 'remote')
  }

  destroy(): void {
    this.doc.destroy()
  }

  private take(): Uint8Array {
    const update = this.last
    this.last = null
    if (!update) throw new Error('the edit produced no update')
    return update
  }
}

/** The text of a document built from `updates`. */
export function textOf(updates: readonly Uint8Array[]): string {
  const doc = new Y.Doc()
  Y.transact(doc, () => updates.forEach((u) => Y.applyUpdate(doc, u)))
  const text = doc.getText(TEXT_NAME).toString()
  doc.destroy()
  return text
}
