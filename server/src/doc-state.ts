/**
 * A room's document content, held encoded (one Yjs update, as the store has it) until something
 * must change it, and only then as a Y.Doc.
 *
 * A Y.Doc takes about ten times the memory of its encoding: 81 KB of heap against 6.4 KB for a
 * 3,500-character page typed keystroke by keystroke. Most open documents are only being read,
 * and reading needs no Y.Doc: a join's state vector, the diff a sync step 1 asks for and the
 * text all come from the encoded form through Yjs's update functions. The Y.Doc is built when
 * an update adds something (or another instance's update arrives), and given up again (rest)
 * once the document has not been written for a while.
 */
import * as Y from 'yjs'

type Decoded = ReturnType<typeof Y.decodeUpdate>

/** An update that holds nothing: a new document. */
const EMPTY = new Uint8Array([0, 0])

/**
 * A Y.Doc with a fixed guid. By default Yjs makes a random one (a uuid, 31 calls to the system's
 * random source) that only subdocuments use; the server has none.
 */
export function serverDoc(): Y.Doc {
  return new Y.Doc({ guid: 'tandem' })
}

export class DocState {
  /** The whole state while there is no Y.Doc; null once it is built. */
  private encoded: Uint8Array | null
  /** Its state vector, which every join sends: computed once while encoded. */
  private vector: Uint8Array | null
  /** Its deletions and state vector, made the first time an update must be compared with them. */
  private snapshot: Y.Snapshot | null = null
  private doc: Y.Doc | null = null

  /**
   * From the stored updates (a snapshot first, if any); none for a new document. Reads every
   * struct once, so content Yjs cannot read fails here, at load, rather than at a later join.
   */
  constructor(updates: readonly Uint8Array[]) {
    this.encoded = updates.length === 0 ? EMPTY : updates.length === 1 ? own(updates[0]!) : Y.mergeUpdates(updates.slice())
    this.vector = Y.encodeStateVectorFromUpdate(this.encoded)
  }

  /** The Y.Doc, or null while the content is only encoded. */
  get live(): Y.Doc | null {
    return this.doc
  }

  /** Builds the Y.Doc (once); the encoded form is dropped then. */
  build(): Y.Doc {
    if (this.doc) return this.doc
    const doc = serverDoc()
    Y.applyUpdate(doc, this.encoded!)
    this.doc = doc
    this.encoded = null
    this.vector = null
    this.snapshot = null
    return doc
  }

  /**
   * Goes back to the encoded form, dropping the Y.Doc: false (and nothing changes) while structs
   * wait in it for a missing dependency, since those are not stored and must not be handed to
   * anyone as part of the document.
   */
  rest(): boolean {
    const doc = this.doc
    if (!doc || doc.store.pendingStructs !== null || doc.store.pendingDs !== null) return false
    this.encoded = Y.encodeStateAsUpdate(doc)
    this.vector = Y.encodeStateVector(doc)
    this.doc = null
    doc.destroy()
    return true
  }

  /** The whole document as one update. */
  encode(): Uint8Array {
    return this.doc ? Y.encodeStateAsUpdate(this.doc) : this.encoded!
  }

  stateVector(): Uint8Array {
    return this.doc ? Y.encodeStateVector(this.doc) : this.vector!
  }

  /** What a peer whose state vector is `stateVector` lacks. Throws on a malformed state vector. */
  diff(stateVector: Uint8Array): Uint8Array {
    if (this.doc) return Y.encodeStateAsUpdate(this.doc, stateVector)
    // A new client (an empty state vector) lacks everything: the encoded state as it is, without
    // reading it through once more.
    if (stateVector.length === 1 && stateVector[0] === 0) return this.encoded!
    return Y.diffUpdate(this.encoded!, stateVector)
  }

  /**
   * Whether applying the update (`decoded` is `bytes` decoded) could not change the document:
   * it has no structs and deletes only what is deleted already. That is what every client that
   * is up to date sends in sync step 2 (a new one sends nothing at all, one with a cached copy
   * its delete set), so judging it must not build the Y.Doc. With a Y.Doc, only an empty update
   * counts: Yjs itself then makes the rest a no-op.
   */
  holds(decoded: Decoded, bytes: Uint8Array): boolean {
    if (decoded.structs.length > 0) return false
    if (decoded.ds.clients.size === 0) return true
    if (this.doc) return false
    // Normalised (sorted, adjacent ranges merged), as Yjs's comparison of delete sets expects.
    this.snapshot ??= Y.createSnapshot(Y.mergeDeleteSets([Y.decodeUpdate(this.encoded!).ds]), Y.decodeStateVector(this.vector!))
    return Y.snapshotContainsUpdate(this.snapshot, bytes)
  }

  /** The text of the named Y.Text; while encoded, read through a Y.Doc that is dropped after. */
  text(name: string): string {
    if (this.doc) return this.doc.getText(name).toString()
    const doc = serverDoc()
    try {
      Y.applyUpdate(doc, this.encoded!)
      return doc.getText(name).toString()
    } finally {
      doc.destroy()
    }
  }

  destroy(): void {
    this.doc?.destroy()
  }
}

/** A copy when `bytes` is a view into a larger buffer (a pooled Buffer), which it would keep alive. */
function own(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes)
}
