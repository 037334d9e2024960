/**
 * 6. Memory: server RSS per idle connection and per loaded document, after a forced GC in the
 * server (it runs with --expose-gc; the probe calls gc()), on a freshly restarted process.
 */
import { waitIdle } from '../metrics.js'
import { serverNow, target, withServer } from './harness.js'
import type { ServerUnderTest } from '../servers/index.js'
import type { Scenario } from './types.js'

/**
 * RSS and V8 heap after a forced GC. RSS is what the machine gives the process, but much of a
 * difference between two readings can be V8's young generation, which grows after a burst of
 * allocation (a connect storm) and shrinks only after seconds of quiet; the heap after a GC is
 * what the server actually keeps. Both are reported.
 */
async function settled(server: ServerUnderTest): Promise<{ rssMB: number; heapMB: number }> {
  await waitIdle(server.pids, 300, 10_000)
  const replies = await server.probe('gc')
  const heapMB = replies.reduce((sum, r) => sum + (r?.heapUsedMB ?? NaN), 0)
  return { rssMB: serverNow(server).rssMB, heapMB }
}

/**
 * V8's young generation, fixed at the same size in every server for this scenario. Left to
 * itself it grows after a burst of allocation (1,000 connects) and gives the memory back only
 * after seconds of quiet, by an amount that differs from run to run: the RSS rows measured how
 * far it had grown more than what a connection or a document keeps. With its size fixed, and
 * its pages all touched before every reading (the probe's gc), a difference of RSS is what the
 * server keeps, on the heap and off it.
 */
const YOUNG_GENERATION = ['--min-semi-space-size=8', '--max-semi-space-size=8']

export const memory: Scenario = {
  name: 'memory',
  title: 'Memory per connection and per document',
  describe: (p) =>
    `${p.memory.docs} documents are written, each the first ${p.memory.docUpdates.toLocaleString('en')} keystrokes of ` +
    `automerge-paper (sent as updates of 100 keystrokes each), and the server is restarted. Then, with a GC forced in the server before each reading: ` +
    `${p.memory.idle} idle clients join one empty room (RSS growth / ${p.memory.idle} = per idle connection), then one ` +
    `client opens each document (RSS growth / ${p.memory.docs}, less one connection = per loaded document). The same ` +
    `differences of the V8 heap after the GC are the heap rows. Every server runs this scenario with V8's young ` +
    `generation fixed at 8 MB semi-spaces (--min-semi-space-size=8 --max-semi-space-size=8), all of it used before each ` +
    `reading, so that a difference of RSS is what the server keeps rather than how far V8 grew its allocation area.`,
  rows: () => [
    { key: 'baseMB', label: 'RSS after restart', unit: 'MB', better: 'lower' },
    { key: 'perConnKB', label: 'RSS per idle connection', unit: 'KB', better: 'lower' },
    { key: 'perDocKB', label: 'RSS per loaded document', unit: 'KB', better: 'lower' },
    { key: 'finalMB', label: 'RSS with everything open', unit: 'MB', better: 'lower' },
    { key: 'heapPerConnKB', label: 'heap per idle connection (after GC)', unit: 'KB', better: 'lower' },
    { key: 'heapPerDocKB', label: 'heap per loaded document (after GC)', unit: 'KB', better: 'lower' },
    { key: 'finalHeapMB', label: 'heap with everything open (after GC)', unit: 'MB', better: 'lower' },
  ],
  clusters: false,
  timeoutMs: () => 180_000,
  async run(ctx) {
    const p = ctx.params.memory
    const expected = ctx.trace.texts[p.docUpdates]
    if (expected === undefined) throw new Error(`no text for ${p.docUpdates} updates in the trace cache`)
    const docs = Array.from({ length: p.docs }, (_, i) => `doc-${i}`)
    await withServer(ctx, this.timeoutMs(ctx.params), async (server, load) => {
      const m = ctx.metrics
      const filled = await load.run(
        'prefill',
        { ...target(server), rooms: docs, updatesFile: ctx.trace.updatesFile, n: p.docUpdates, expectedLength: expected.length, batch: 10, timeoutMs: 90_000 },
        100_000,
      )
      if (!(await waitIdle(server.pids, 1000, 30_000))) ctx.notes.push('server still busy 30 s after the prefill')
      const stopped = await server.restart()
      if (stopped?.killed) ctx.notes.push('did not exit within 15 s of SIGTERM; killed')
      const before = await settled(server)
      const base = before.rssMB
      m.baseMB = base
      const idle = await load.run('openMany', { ...target(server), rooms: Array(p.idle).fill('idle'), batch: 100, timeoutMs: 60_000 }, 70_000)
      const conns = await settled(server)
      const withConns = conns.rssMB
      const perConnMB = (withConns - base) / p.idle
      m.perConnKB = perConnMB * 1024
      const heapPerConnMB = (conns.heapMB - before.heapMB) / p.idle
      m.heapPerConnKB = heapPerConnMB * 1000
      const opened = await load.run(
        'openMany',
        { ...target(server), rooms: docs, batch: 10, expectedLength: expected.length, timeoutMs: 60_000 },
        70_000,
      )
      if (!opened.ok || !idle.ok) throw new Error('a document did not open with its full text')
      const everything = await settled(server)
      const all = everything.rssMB
      m.perDocKB = ((all - withConns) / p.docs - perConnMB) * 1024
      m.finalMB = all
      m.heapPerDocKB = ((everything.heapMB - conns.heapMB) / p.docs - heapPerConnMB) * 1000
      m.finalHeapMB = everything.heapMB
      ctx.log(
        `prefill ${(filled.ms / 1000).toFixed(1)} s, base ${base.toFixed(0)} MB, ${m.perConnKB.toFixed(1)} KB per connection, ${m.perDocKB.toFixed(0)} KB per document ` +
          `(heap: ${m.heapPerConnKB.toFixed(1)} KB per connection, ${m.heapPerDocKB.toFixed(0)} KB per document)`,
      )
    }, { nodeFlags: YOUNG_GENERATION })
  },
}
