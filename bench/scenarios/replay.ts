/**
 * 3. Replay and 4. cold open, one run for both: the automerge-paper trace typed by one client
 * as fast as the server reads it, watched by another; then the server is stopped (SIGTERM, its
 * normal shutdown), started again on the same data, and a new client opens the document.
 */
import { execFileSync } from 'node:child_process'
import { waitIdle } from '../metrics.js'
import { serverNow, target, withServer } from './harness.js'
import type { Scenario } from './types.js'

function diskMB(dir: string): number {
  try {
    return Number(execFileSync('du', ['-sk', dir]).toString().split('\t')[0]) / 1024
  } catch {
    return NaN
  }
}

export const replay: Scenario = {
  name: 'replay',
  title: 'Replay of automerge-paper, then cold open',
  describe: (p) =>
    `Replay: one client sends the first ${p.replay.updates.toLocaleString('en')} keystrokes of the automerge-paper trace ` +
    `(one Yjs update per trace transaction, the bytes a Yjs client produces when typing it, generated once before the ` +
    `run) as fast as the server relays it (at most ${p.replay.inFlightBytes / 1024} KiB of updates sent that the watcher does not ` +
    `hold yet); a second client watches. Time from the first send until the watcher's text equals the trace's text. ` +
    `Cold open: the server is then stopped with SIGTERM (once it has used no CPU for a full second, at most ` +
    `${p.replay.storedWaitMs / 1000} s after the replay: a server still storing then loses what it had not written), started again on the same data dir, and once it ` +
    `listens a new client opens the document: time until that client holds the full text (not just the sync event).`,
  rows: () => [
    { key: 'replayS', label: 'replay: time until the watcher has the text', unit: 's', better: 'lower' },
    { key: 'replayIdleS', label: 'replay: time until the server is idle (done storing)', unit: 's', better: 'lower' },
    { key: 'replayCpuS', label: 'replay: server CPU', unit: 's', better: 'lower' },
    { key: 'replayRssMB', label: 'replay: server RSS after', unit: 'MB', better: 'lower' },
    { key: 'replayHeapMB', label: 'replay: server heap once idle (after GC)', unit: 'MB', better: 'lower' },
    { key: 'diskMB', label: 'stored on disk after shutdown', unit: 'MB', better: 'lower' },
    { key: 'coldMs', label: 'cold open: time until the new client has the text', unit: 'ms', better: 'lower' },
    { key: 'coldCpuMs', label: 'cold open: server CPU', unit: 'ms', better: 'lower' },
  ],
  clusters: false,
  timeoutMs: (p) => 90_000 + p.replay.updates / 2 + p.replay.storedWaitMs,
  async run(ctx) {
    const n = ctx.params.replay.updates
    const expected = ctx.trace.texts[n]
    if (expected === undefined) throw new Error(`no text for ${n} updates in the trace cache`)
    await withServer(ctx, this.timeoutMs(ctx.params), async (server, load) => {
      const m = ctx.metrics
      const before = serverNow(server)
      const replayed = await load.run(
        'replay',
        // 62 s for the whole trace: two and a half times the slowest healthy run (Hocuspocus, 24-25 s
        // with 128 KiB in flight).
        {
          ...target(server),
          room: 'automerge-paper',
          updatesFile: ctx.trace.updatesFile,
          n,
          inFlightBytes: ctx.params.replay.inFlightBytes,
          expected,
          timeoutMs: 30_000 + n / 8,
        },
        40_000 + n / 8,
      )
      const after = serverNow(server)
      m.replayS = replayed.ms / 1000
      m.replaySendS = replayed.sendMs / 1000
      m.replayCpuS = (after.cpuMs - before.cpuMs) / 1000
      m.replayRssMB = after.rssMB
      m.replayHwmMB = after.hwmMB
      m.replayClientCpuS = replayed.clientCpuMs / 1000
      ctx.log(`replay ${(replayed.ms / 1000).toFixed(2)} s (sent in ${(replayed.sendMs / 1000).toFixed(2)} s), server CPU ${m.replayCpuS.toFixed(2)} s`)

      const watched = performance.now()
      await load.run('closeAll', undefined as never, 10_000)
      // At most storedWaitMs (see Params): with the suite's 5 s, the "idle" cell of a server
      // still writing then is a lower bound, and what it keeps depends on when it is stopped.
      const wait = ctx.params.replay.storedWaitMs
      if (!(await waitIdle(server.pids, 1000, wait))) ctx.notes.push(`server still busy ${wait / 1000} s after the replay`)
      // A server that relays before it stores keeps writing after the watcher has the text.
      m.replayIdleS = m.replayS + Math.max(0, performance.now() - 1000 - watched) / 1000
      // What the server keeps of the replay once its clients are gone, without V8's garbage (RSS
      // above is read at once, garbage included, as a user's monitoring would see it).
      const replies = await server.probe('gc')
      m.replayHeapMB = replies.reduce((sum, r) => sum + (r?.heapUsedMB ?? NaN), 0)
      m.replayIdleRssMB = serverNow(server).rssMB
      const stopped = await server.restart()
      if (stopped?.killed) ctx.notes.push('did not exit within 15 s of SIGTERM; killed')
      m.stopMs = stopped?.ms ?? NaN
      m.diskMB = diskMB(server.dataDir)
      const cpu0 = serverNow(server).cpuMs
      const opened = await load.run('openOnce', { ...target(server), room: 'automerge-paper', expected, timeoutMs: 30_000 }, 40_000)
      if (!opened.ok) {
        ctx.notes.push(
          `cold open: the new client got ${opened.length} of ${expected.length} characters, ` +
            `the last of them ${(opened.lastChangeMs / 1000).toFixed(1)} s after it connected`,
        )
        // What is on disk is not the document, so its size compares with nothing.
        delete m.diskMB
        throw new Error(`cold open: document not restored (${opened.length} of ${expected.length} characters)`)
      }
      m.coldMs = opened.ms
      // NaN crosses IPC as null: the sync event may come after the text (or not at all).
      m.coldSyncEventMs = opened.syncedMs ?? NaN
      m.coldCpuMs = serverNow(server).cpuMs - cpu0
      ctx.log(`cold open ${opened.ms.toFixed(0)} ms (sync event at ${m.coldSyncEventMs.toFixed(0)} ms), ${m.diskMB.toFixed(1)} MB on disk`)
    })
  },
}
