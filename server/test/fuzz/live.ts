/**
 * A live server under fire: honest stock clients edit a room while a hostile raw client sends
 * fast-check-generated frames into it, reconnecting after every close. Afterwards the server is
 * still up, every close used a documented code (never INTERNAL), the honest clients have
 * converged with each other and with the server and still sync on their first connections, and
 * the stored document, reloaded and served again after a restart, is exactly what they hold.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as Y from 'yjs'
import { decode } from '../../src/protocol.js'
import { TEXT_NAME } from '../../src/room.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { Cleanup } from '../helpers/cleanup.js'
import { converged, RawClient, stockClient, type StockClient } from '../helpers/clients.js'
import { hex } from '../helpers/frames.js'
import { Rng } from '../helpers/random.js'
import { startServer } from '../helpers/server.js'
import { savedQuery } from '../helpers/hostile.js'
import { health } from '../helpers/tokens.js'
import { waitFor } from '../helpers/wait.js'
import { hostileFrame, withCause } from './arbitraries.js'

const ROOM = 'fuzzed'
/** What a bad frame may close a connection with (docs/protocol.md); 1011 would be a bug. */
const EXPECTED_CLOSES = new Set([1003, 1009, 4400, 4413, 4422])
const BATCH = 10

export interface LiveFuzzOptions {
  readonly seed: number
  /** Hostile frames to send, in batches of 10. */
  readonly frames: number
  readonly log: (line: string) => void
}

export interface LiveFuzzReport {
  /** Hostile frames sent. */
  readonly frames: number
  readonly closes: Record<number, number>
  readonly honestEdits: number
  /** Updates among them whose structs reuse a Yjs client id an earlier, different frame used. */
  readonly reused: number
}

const frameOrText: fc.Arbitrary<Uint8Array | string> = fc.oneof(
  { weight: 30, arbitrary: hostileFrame },
  { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
)

/**
 * Keeps one hostile connection open, reopening it after each close and counting the codes.
 *
 * Generated updates often reuse a Yjs client id an earlier frame used, so their IDs (client,
 * clock) overlap content the server has under other content, origins or parents. Yjs trusts
 * authors never to do that; the server refuses such an update (4422, equivocation.ts) before it
 * is applied, or its doc would differ from what it stores and relays. They are sent, and
 * counted, to show that it does.
 */
class Hostile {
  private client: RawClient | null = null
  private query = 0
  readonly closes: Record<number, number> = {}
  /** Yjs client ids used by the updates sent so far, with the frame that used each. */
  private readonly authors = new Map<number, string>()
  reused = 0

  constructor(
    private readonly cleanup: Cleanup,
    private readonly url: string,
  ) {}

  /** Sends one frame and waits until the server has handled it (or closed the connection). */
  async send(frame: Uint8Array | string): Promise<void> {
    if (typeof frame !== 'string' && this.reusesAuthor(frame)) this.reused++
    const client = await this.connection()
    client.send(frame)
    const id = ++this.query
    client.send(savedQuery(id))
    await waitFor(() => client.isClosed || client.frames.some((f) => f.kind === 'saved' && f.id === id), {
      timeoutMs: 5000,
      message: () => `the server neither answered nor closed after ${typeof frame === 'string' ? JSON.stringify(frame) : hex(frame)}`,
    })
    if (client.isClosed) await this.closed(client)
  }

  private reusesAuthor(frame: Uint8Array): boolean {
    let structs: ReturnType<typeof Y.decodeUpdate>['structs']
    try {
      const message = decode(frame)
      if (message.kind !== 'update' && message.kind !== 'sync-step2') return false
      structs = Y.decodeUpdate(message.update).structs
    } catch {
      return false // refused before Yjs integrates anything
    }
    const key = Buffer.from(frame).toString('base64')
    const reuses = structs.some((s) => (this.authors.get(s.id.client) ?? key) !== key)
    for (const s of structs) if (!this.authors.has(s.id.client)) this.authors.set(s.id.client, key)
    return reuses
  }

  private async connection(): Promise<RawClient> {
    if (this.client && !this.client.isClosed) return this.client
    const client = await RawClient.connect(this.cleanup, this.url)
    this.client = client
    return client
  }

  private async closed(client: RawClient): Promise<void> {
    const { code, reason } = await client.closed
    this.closes[code] = (this.closes[code] ?? 0) + 1
    assert.ok(EXPECTED_CLOSES.has(code), `the hostile client was closed with ${code} (${reason})`)
    this.client = null
  }
}

/** Which clients' clocks or deletions differ between two snapshots. */
function describeDifference(actual: Y.Snapshot, expected: Y.Snapshot): string {
  const out: string[] = []
  for (const client of new Set([...actual.sv.keys(), ...expected.sv.keys()])) {
    if (actual.sv.get(client) !== expected.sv.get(client)) out.push(`client ${client} clock ${actual.sv.get(client)} vs ${expected.sv.get(client)}`)
  }
  for (const client of new Set([...actual.ds.clients.keys(), ...expected.ds.clients.keys()])) {
    const a = JSON.stringify(actual.ds.clients.get(client) ?? [])
    const e = JSON.stringify(expected.ds.clients.get(client) ?? [])
    if (a !== e) out.push(`client ${client} deletions ${a.slice(0, 200)} vs ${e.slice(0, 200)}`)
  }
  return out.join('; ') || 'no difference in clocks or deletions'
}

export async function fuzzLiveServer(cleanup: Cleanup, { seed, frames, log }: LiveFuzzOptions): Promise<LiveFuzzReport> {
  const dir = cleanup.tempDir('tandem-fuzz-')
  const store = SqliteStore.open(dir, { synchronous: 'normal' })
  let storeOpen = true
  cleanup.add(() => storeOpen && store.close())
  const env = {
    // The hostile client's reconnects and pace are not what this is about.
    MESSAGES_PER_SECOND: '1000000',
    MAX_CONNECTS_PER_MINUTE: '10000000',
    // Compaction folds hostile (and pending) content into snapshots too.
    COMPACT_AFTER_UPDATES: '40',
  }
  const server = await startServer(cleanup, { store, env })
  const honest: StockClient[] = [await stockClient(cleanup, server.wsUrl, ROOM), await stockClient(cleanup, server.wsUrl, ROOM)]
  honest[0]!.provider.awareness.setLocalStateField('user', { name: 'honest 0' })

  // The honest clients type throughout, from the same seed.
  const rng = new Rng(seed)
  let typing = true
  let honestEdits = 0
  const typed = (async () => {
    while (typing) {
      const { text } = rng.pick(honest)
      if (text.length > 0 && rng.float() < 0.3) text.delete(rng.int(text.length), 1)
      else text.insert(rng.int(text.length + 1), rng.word())
      honestEdits++
      await new Promise((resolve) => setTimeout(resolve, 2)) // a fast typist's pace
    }
  })()

  const hostile = new Hostile(cleanup, `${server.wsUrl}/${ROOM}`)
  let sent = 0
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(frameOrText, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        for (const frame of batch) {
          await hostile.send(frame)
          sent++
        }
        const status = await health(server.httpUrl)
        assert.equal(status.status, 200, `healthz after ${sent} frames`)
        if (sent % 1000 === 0) log(`${sent} hostile frames; closes ${JSON.stringify(hostile.closes)}`)
      }),
      // The server's state carries over between runs, so a shrunk replay would mean little.
      { seed, numRuns: Math.ceil(frames / BATCH), endOnFailure: true },
    ).catch(withCause)
  } finally {
    typing = false
    await typed
  }

  // Converged with each other and with the server (a newcomer gets its document), and still
  // syncing both ways on the same connections.
  const [a, b] = honest as [StockClient, StockClient]
  const probe = await stockClient(cleanup, server.wsUrl, ROOM)
  await converged([a, b, probe])
  a.text.insert(0, '[a after]')
  await waitFor(() => b.text.toString().startsWith('[a after]'), { message: 'b stopped receiving' })
  b.text.insert(b.text.length, '[b after]')
  await waitFor(() => a.text.toString().endsWith('[b after]'), { message: 'a stopped receiving' })
  await converged([a, b, probe])
  for (const client of honest) assert.deepEqual(client.closeCodes, [], 'an honest client lost its connection')
  const errors = server.logs.filter((line) => / ERROR /.test(line))
  assert.deepEqual(errors, [], 'the server logged errors')

  // What the store holds is exactly the honest clients' document, after a reload and a restart.
  const expected = Y.snapshot(a.doc)
  const expectedText = a.text.toString()
  for (const client of [...honest, probe]) client.destroy()
  await server.close()
  await store.close()
  storeOpen = false
  const reopened = SqliteStore.open(dir, { synchronous: 'normal' })
  cleanup.add(() => reopened.close())
  const stored = await reopened.load(ROOM)
  assert.ok(stored, 'nothing was stored')
  const reloaded = new Y.Doc()
  Y.transact(reloaded, () => stored.updates.forEach((update) => Y.applyUpdate(reloaded, update)))
  assert.equal(reloaded.getText(TEXT_NAME).toString(), expectedText)
  assert.ok(Y.equalSnapshots(Y.snapshot(reloaded), expected), `the stored document differs from the honest clients’: ${describeDifference(Y.snapshot(reloaded), expected)}`)
  reloaded.destroy()
  const restarted = await startServer(cleanup, { store: reopened, env })
  const late = await stockClient(cleanup, restarted.wsUrl, ROOM)
  assert.equal(late.text.toString(), expectedText)
  assert.ok(Y.equalSnapshots(Y.snapshot(late.doc), expected), 'after a restart the server serves another document')

  return { frames: sent, closes: hostile.closes, honestEdits, reused: hostile.reused }
}
