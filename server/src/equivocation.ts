/**
 * Refuses Yjs updates that reuse IDs (client, clock) the document already has for other content.
 *
 * Yjs trusts every author never to reuse an ID. When an update's struct overlaps what the doc
 * already holds for its client, Yjs skips the overlap and integrates only the rest, keeping the
 * struct's declared parent but taking its left neighbour from the doc. If the struct was not
 * the same one, the server's item then sits in one type's list while claiming another as its
 * parent: the server's doc differs from what it stores and relays (which name the left
 * neighbour, from which receivers infer the parent), and later edits next to it diverge.
 *
 * So each incoming item that overlaps known IDs, or IDs that updates waiting for a dependency
 * (pending structs) already claim, must agree with them unit by unit: same content, same origin
 * (the item to its left when it was made), same right origin, same parent. That is what Yjs
 * fixes at creation for every unit of content, whatever splits and merges happened since, so
 * an honest client resending what it has (reconnects, offline edits, a whole state in sync
 * step 2) always agrees. Some things cannot be compared, and pass:
 * - GC structs (either side): content garbage-collected after its type was deleted; nothing is
 *   left to compare, and Yjs makes an item that continues next to one a GC too (its parent is
 *   gone), or throws (which the room answers with 4422).
 * - Content that either side holds as deleted (ContentDeleted keeps only the length).
 * - A string unit that is U+FFFD on either side: Yjs writes that in place of half a surrogate
 *   pair when it splits an item between the halves.
 *
 * Not covered: IDs nobody has used yet. Client ids are not bound to connections (a client's
 * sync step 2 carries other clients' structs), so a writer can claim IDs ahead of another
 * client; that client's own edits then overlap with other content and are refused here.
 */
import * as Y from 'yjs'

type Decoded = ReturnType<typeof Y.decodeUpdate>
type Parent = string | Y.ID | null

/**
 * One item as this check sees it: from the doc (parent resolved to a root name or the ID of the
 * item holding the type) or decoded from an update (parent as written: only when the item has
 * neither origin nor right origin, since Yjs infers it from those otherwise).
 */
interface Claim {
  readonly item: Y.Item
  readonly parent: Parent
  readonly parentSub: string | null
}

/** Throws when the update disagrees with what the doc holds or awaits: it must not be applied. */
export function refuseReusedIds(doc: Y.Doc, update: Decoded): void {
  const problem = findReusedId(doc, update)
  if (problem) throw new Error(problem)
}

/** Null when the update agrees with everything known; otherwise the first disagreement. */
export function findReusedId(doc: Y.Doc, update: Decoded): string | null {
  let pending: ReadonlyMap<number, Claim[]> | null = null
  for (const struct of update.structs) {
    if (!(struct instanceof Y.Item)) continue // GC and Skip claim no content
    const { client, clock } = struct.id
    const known = Y.getState(doc.store, client)
    // The usual update brings only new IDs and nothing waits: nothing to compare.
    if (clock >= known && !doc.store.pendingStructs) continue
    const incoming = decodedClaim(struct)
    const end = clock + struct.length
    if (clock < known) {
      const structs = doc.store.clients.get(client)!
      for (let i = Y.findIndexSS(structs, clock); i < structs.length && structs[i]!.id.clock < Math.min(end, known); i++) {
        const existing = structs[i]!
        if (!(existing instanceof Y.Item)) continue
        const problem = compare(docClaim(existing), incoming)
        if (problem) return problem
      }
    }
    if (doc.store.pendingStructs) {
      pending ??= pendingClaims(doc.store.pendingStructs.update)
      for (const waiting of pending.get(client) ?? []) {
        const problem = compare(waiting, incoming)
        if (problem) return `${problem} (in an update still waiting for a dependency)`
      }
    }
  }
  return null
}

function decodedClaim(item: Y.Item): Claim {
  return { item, parent: item.parent as unknown as Parent, parentSub: item.parentSub }
}

function docClaim(item: Y.Item): Claim {
  const type = item.parent as Y.AbstractType<unknown>
  const parent = type._item ? type._item.id : Y.findRootTypeKey(type)
  return { item, parent, parentSub: item.parentSub }
}

/**
 * Decoded pending structs, by the buffer Yjs keeps them in. Yjs replaces that buffer whenever
 * what is pending changes, so an entry is never stale, and it goes with the buffer. Without it,
 * a writer holding MAX_PENDING_BYTES pending would make every small update decode megabytes.
 */
const pendingCache = new WeakMap<Uint8Array, ReadonlyMap<number, Claim[]>>()

/** Items of the structs waiting in the doc for a missing dependency (Yjs keeps them in V2), by client. */
function pendingClaims(update: Uint8Array): ReadonlyMap<number, Claim[]> {
  const cached = pendingCache.get(update)
  if (cached) return cached
  const out = new Map<number, Claim[]>()
  for (const struct of Y.decodeUpdateV2(update).structs) {
    if (!(struct instanceof Y.Item)) continue
    const list = out.get(struct.id.client) ?? []
    list.push(decodedClaim(struct))
    out.set(struct.id.client, list)
  }
  pendingCache.set(update, out)
  return out
}

/** Compares two items of one client where their clock ranges overlap. */
function compare(known: Claim, incoming: Claim): string | null {
  const a = known.item
  const b = incoming.item
  const from = Math.max(a.id.clock, b.id.clock)
  const to = Math.min(a.id.clock + a.length, b.id.clock + b.length)
  if (from >= to) return null
  const at = `client ${a.id.client} clock ${from}`
  // Within an item every unit's origin is the unit before it; only an item's first unit has
  // the origin it was made with. So comparing at the first shared unit compares them all.
  if (!sameId(originAt(a, from), originAt(b, from))) return `${at} is reused with another origin`
  if (!sameId(a.rightOrigin, b.rightOrigin)) return `${at} is reused with another right origin`
  // A parent is compared when both name one; otherwise it follows from the origins above.
  if (known.parent !== null && incoming.parent !== null) {
    if (!sameParent(known.parent, incoming.parent) || known.parentSub !== incoming.parentSub) return `${at} is reused in another parent`
  }
  if (!sameContent(a, from - a.id.clock, b, from - b.id.clock, to - from)) return `${at} is reused with other content`
  return null
}

function originAt(item: Y.Item, clock: number): Y.ID | null {
  return clock === item.id.clock ? item.origin : Y.createID(item.id.client, clock - 1)
}

function sameId(x: Y.ID | null, y: Y.ID | null): boolean {
  return x === y || (x !== null && y !== null && x.client === y.client && x.clock === y.clock)
}

function sameParent(x: Parent, y: Parent): boolean {
  if (typeof x === 'string' || typeof y === 'string') return x === y
  return sameId(x, y)
}

const REPLACEMENT = '\uFFFD'

/** `n` units of content from offset `i` of `a` and offset `j` of `b`. */
function sameContent(a: Y.Item, i: number, b: Y.Item, j: number, n: number): boolean {
  const x = a.content
  const y = b.content
  if (x instanceof Y.ContentDeleted || y instanceof Y.ContentDeleted) return true
  if (x.constructor !== y.constructor) return false
  if (x instanceof Y.ContentString && y instanceof Y.ContentString) {
    const s = x.str.slice(i, i + n)
    const t = y.str.slice(j, j + n)
    if (s === t) return true
    if (s.length !== t.length) return false
    for (let k = 0; k < s.length; k++) if (s[k] !== t[k] && s[k] !== REPLACEMENT && t[k] !== REPLACEMENT) return false
    return true
  }
  if ((x instanceof Y.ContentAny || x instanceof Y.ContentJSON) && (y instanceof Y.ContentAny || y instanceof Y.ContentJSON)) {
    const s = x.arr.slice(i, i + n)
    const t = y.arr.slice(j, j + n)
    return s.length === t.length && s.every((value, k) => JSON.stringify(value) === JSON.stringify(t[k]))
  }
  // Every other kind (binary, embed, format, type, subdocument) is one unit: compare its encoding.
  return Buffer.from(encoded(x)).equals(encoded(y))
}

function encoded(content: Y.Item["content"]): Uint8Array {
  const encoder = new Y.UpdateEncoderV1()
  content.write(encoder, 0)
  return encoder.toUint8Array()
}
