/**
 * The automerge-paper editing trace as the keystroke updates one Yjs client produces when it
 * types it: one Y.Text transaction per trace txn, the doc's `update` event captured. Generated
 * once and cached under bench/tmp, so a scenario run spends no time producing keystrokes and
 * every server receives the same bytes.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { TEXT_NAME } from './client.js'

export const TRACE_FILE = '/work/shared/data/editing-traces/sequential_traces/automerge-paper.json.gz'

interface TraceJson {
  readonly startContent: string
  readonly endContent: string
  readonly txns: ReadonlyArray<{ readonly patches: ReadonlyArray<readonly [number, number, string]> }>
}

export interface TraceCache {
  /** Length-prefixed updates (varUint8Array each), in typing order. */
  readonly updatesFile: string
  readonly count: number
  /** Text after the first n updates, for each n asked for. */
  readonly texts: Record<number, string>
  readonly endContent: string
}

/** Builds (or reuses) the cache; `prefixes` are the update counts whose text is needed. */
export function traceCache(dir: string, prefixes: readonly number[]): TraceCache {
  fs.mkdirSync(dir, { recursive: true })
  const updatesFile = path.join(dir, 'automerge-paper.updates.bin')
  const metaFile = path.join(dir, 'automerge-paper.meta.json')
  let meta: TraceCache | null = null
  if (fs.existsSync(metaFile) && fs.existsSync(updatesFile)) {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as TraceCache
    if (!prefixes.every((n) => meta!.texts[n] !== undefined)) meta = null
  }
  if (meta) return meta

  const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(TRACE_FILE)).toString('utf8')) as TraceJson
  // A fixed client id: the same bytes on every run.
  const doc = new Y.Doc()
  doc.clientID = 1
  const text = doc.getText(TEXT_NAME)
  const encoder = encoding.createEncoder()
  let count = 0
  doc.on('update', (update: Uint8Array) => {
    encoding.writeVarUint8Array(encoder, update)
    count++
  })
  const wanted = new Set(prefixes)
  const texts: Record<number, string> = {}
  trace.txns.forEach((txn, i) => {
    doc.transact(() => {
      for (const [pos, del, ins] of txn.patches) {
        if (del > 0) text.delete(pos, del)
        if (ins.length > 0) text.insert(pos, ins)
      }
    })
    if (wanted.has(i + 1)) texts[i + 1] = text.toString()
  })
  if (text.toString() !== trace.endContent) throw new Error('trace replay does not reach endContent')
  texts[trace.txns.length] = trace.endContent
  fs.writeFileSync(updatesFile, encoding.toUint8Array(encoder))
  meta = { updatesFile, count, texts, endContent: trace.endContent }
  fs.writeFileSync(metaFile, JSON.stringify(meta))
  return meta
}

/**
 * For each update, the clock of the trace's one client after it (carried over updates that only
 * delete): a reader whose state vector has reached it holds that update.
 */
export function clocksAfter(updates: readonly Uint8Array[]): Uint32Array {
  const clocks = new Uint32Array(updates.length)
  let clock = 0
  updates.forEach((update, i) => {
    for (const end of Y.parseUpdateMeta(update).to.values()) clock = Math.max(clock, end)
    clocks[i] = clock
  })
  return clocks
}

/** The first `n` updates of the cache file. */
export function readUpdates(file: string, n: number): Uint8Array[] {
  const decoder = decoding.createDecoder(new Uint8Array(fs.readFileSync(file)))
  const out: Uint8Array[] = []
  while (out.length < n && decoding.hasContent(decoder)) out.push(decoding.readVarUint8Array(decoder))
  return out
}
