/**
 * Merging a run of updates that were already decoded, for the common shape: each client's
 * structs across the run follow each other without a gap or an overlap (a typist's keystrokes,
 * a paste, a client catching up). Any other shape returns null and the caller asks Yjs.
 *
 * Why not always `Y.mergeUpdates`: it decodes every update again, and before it writes each
 * struct it filters and sorts its list of decoders, once per struct. For a run of 32 one-struct
 * keystrokes that is 32 sorts of up to 32 decoders, and in the automerge-paper replay it was
 * 30 % of everything the server allocated (heap sampling: 574 of 1,900 MB). The room has already
 * decoded each update to check it; this writes those structs with Yjs's own encoder and struct
 * writers.
 *
 * It also joins typed text: a character typed right after the one before (its origin is that
 * character, its right origin the same) becomes part of that one's struct, as Yjs joins them
 * in a document once they are integrated. Yjs's merge keeps them apart, so a reader (and the
 * server, which applies the merged run) would make an Item per keystroke, only to join them
 * again at the end of the transaction: in the replay, most of what the server's old generation
 * grew by. Joined, the run is the struct a document holding it would encode, and applying it
 * gives the same document as applying its parts: a client that already holds a prefix gets the
 * rest sliced off with its origin at the last character it holds, which is the origin the next
 * part had. Only text (ContentString, which is never a map value) is joined: a map key set twice
 * has the same origin chain, and its first value must end up deleted, not joined.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'

export type DecodedUpdate = ReturnType<typeof Y.decodeUpdate>

/**
 * The v1 update holding all of `updates`, or null when a client's structs across them are not
 * one gapless sequence in the order given, or hold anything but Items (a GC or Skip, which Yjs
 * merges or slices).
 */
export function mergeRun(updates: readonly DecodedUpdate[]): Uint8Array | null {
  // Each client's structs in the order they came, which must be the order of their clocks.
  const byClient = new Map<number, Y.Item[]>()
  // Items this merge made by joining text, whose text it may go on extending.
  const made = new Set<Y.Item>()
  for (const { structs } of updates) {
    for (const struct of structs) {
      if (!(struct instanceof Y.Item)) return null
      const { client, clock } = struct.id
      const run = byClient.get(client)
      if (run === undefined) byClient.set(client, [struct])
      else {
        const last = run[run.length - 1]!
        if (last.id.clock + last.length !== clock) return null
        if (typedAfter(last, struct)) run[run.length - 1] = join(last, struct, made)
        else run.push(struct)
      }
    }
  }
  const encoder = new Y.UpdateEncoderV1()
  const rest = encoder.restEncoder
  // The layout Yjs writes: clients from the highest ID down, each as (count, client, first
  // clock, structs); then the delete set, also from the highest client down.
  const clients = Array.from(byClient.keys()).sort((a, b) => b - a)
  encoding.writeVarUint(rest, clients.length)
  for (const client of clients) {
    const structs = byClient.get(client)!
    encoding.writeVarUint(rest, structs.length)
    encoder.writeClient(client)
    encoding.writeVarUint(rest, structs[0]!.id.clock)
    for (const struct of structs) struct.write(encoder, 0)
  }
  const ds = Y.mergeDeleteSets(updates.map((u) => u.ds))
  const dsClients = Array.from(ds.clients.keys()).sort((a, b) => b - a)
  encoding.writeVarUint(rest, dsClients.length)
  for (const client of dsClients) {
    const ranges = ds.clients.get(client)!
    encoder.resetDsCurVal()
    encoding.writeVarUint(rest, client)
    encoding.writeVarUint(rest, ranges.length)
    for (const { clock, len } of ranges) {
      encoder.writeDsClock(clock)
      encoder.writeDsLen(len)
    }
  }
  return encoder.toUint8Array()
}

/** Whether `right` is text typed straight after `left`, the next clock of the same client. */
function typedAfter(left: Y.Item, right: Y.Item): boolean {
  return (
    left.content instanceof Y.ContentString &&
    right.content instanceof Y.ContentString &&
    left.parentSub === null &&
    right.origin !== null &&
    right.origin.client === left.id.client &&
    right.origin.clock === left.id.clock + left.length - 1 &&
    Y.compareIDs(right.rightOrigin, left.rightOrigin)
  )
}

/** `left` with `right`'s text appended: a new Item the first time, then that one extended. */
function join(left: Y.Item, right: Y.Item, made: Set<Y.Item>): Y.Item {
  const text = (right.content as Y.ContentString).str
  if (made.has(left)) {
    ;(left.content as Y.ContentString).str += text
    left.length += right.length
    return left
  }
  const content = new Y.ContentString((left.content as Y.ContentString).str + text)
  // A decoded struct's parent is the root type's name or the parent's ID, as Item.write expects.
  const joined = new Y.Item(left.id, null, left.origin, null, left.rightOrigin, left.parent, left.parentSub, content)
  made.add(joined)
  return joined
}
