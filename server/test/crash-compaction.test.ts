/**
 * Crash safety of the SQLite store under SIGKILL: a child appends Yjs edits one commit at a time
 * and compacts every few appends; the parent kills it at seeded random moments, reopens the store,
 * and checks that the document loads and holds the last acknowledged edit (or the one in flight),
 * never less. Then it starts a new child on the same folder and does it again.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import * as Y from 'yjs'
import { SqliteStore } from '../src/store/sqlite.js'
import { Cleanup } from './helpers/cleanup.js'
import { textHash } from './helpers/hash.js'
import { seededRng } from './helpers/random.js'
import { childEnv, REPO_ROOT } from './helpers/server.js'
import { within } from './helpers/wait.js'
import { test } from './helpers/test.js'

const ROUNDS = 6
const COMPACT_EVERY = 7
const WRITER = path.join(REPO_ROOT, 'server/test/helpers/crash-writer.ts')

interface Round {
  /** count → text hash, for the start and every announced append. */
  readonly hashes: Map<number, string>
  readonly lastAck: number
  /** The append announced but not acknowledged when the child died, if any. */
  readonly inFlight: number | null
  readonly lastLine: string
  readonly stderr: string
}

/** Runs one writer until it has printed `killAfterLines` lines, SIGKILLs it, and reads all it said. */
async function runWriter(cleanup: Cleanup, dir: string, seed: number, start: number, killAfterLines: number): Promise<Round> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, 'doc', String(seed), String(start), String(COMPACT_EVERY)], {
    cwd: REPO_ROOT,
    env: childEnv({}),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const gone = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])))
  cleanup.add(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await gone
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const lines: string[] = []
  let partial = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop()!
    for (const line of parts) {
      lines.push(line)
      // Kill synchronously the moment the chosen line arrives; the child is somewhere after it.
      if (lines.length === killAfterLines) child.kill('SIGKILL')
    }
  })
  // 'close' fires after the process exited and its stdout was read to the end.
  const [code, signal] = await within(gone, {
    timeoutMs: 30_000,
    message: () => `writer was not killed after ${killAfterLines} lines (printed ${lines.length}); stderr:\n${stderr}`,
  })
  assert.equal(signal, 'SIGKILL', `writer exited by itself (code ${code}); stderr:\n${stderr}`)

  const hashes = new Map<number, string>()
  let lastAck = start
  let inFlight: number | null = null
  for (const line of lines) {
    const [what, countText, hash] = line.split(' ')
    const count = Number(countText)
    if (what === 'start') {
      assert.equal(count, start)
      hashes.set(count, hash!)
    } else if (what === 'will') {
      assert.equal(count, lastAck + 1, `appends are announced in order: ${line}`)
      hashes.set(count, hash!)
      inFlight = count
    } else if (what === 'ack') {
      assert.equal(count, inFlight, `ack for the announced append: ${line}`)
      lastAck = count
      inFlight = null
    }
  }
  return { hashes, lastAck, inFlight, lastLine: lines.at(-1) ?? '(nothing)', stderr }
}

test('SIGKILL at random moments never loses an acknowledged append, even mid-compaction', async (t) => {
  const cleanup = new Cleanup(t)
  const rng = seededRng(t)
  const dir = cleanup.tempDir()
  let count = 0
  let expectedHash = textHash('')
  for (let round = 0; round < ROUNDS; round++) {
    // Early kills (during start-up or the first appends) as well as late ones.
    const killAfter = rng.float() < 0.25 ? rng.range(1, 20) : rng.range(20, 3000)
    const result = await runWriter(cleanup, dir, rng.int(2 ** 31), count, killAfter)
    assert.equal(result.hashes.get(count), expectedHash, `round ${round}: the writer loaded the document we checked`)

    const store = SqliteStore.open(dir, { synchronous: 'normal' })
    let loadedHash: string
    try {
      const stored = await store.load('doc')
      const doc = new Y.Doc()
      if (stored) Y.transact(doc, () => stored.updates.forEach((update) => Y.applyUpdate(doc, update)))
      loadedHash = textHash(doc.getText('codemirror').toString())
      doc.destroy()
    } finally {
      await store.close()
    }

    const candidates = [result.lastAck, ...(result.inFlight === null ? [] : [result.inFlight])]
    const matched = candidates.find((c) => result.hashes.get(c) === loadedHash)
    t.diagnostic(
      `round ${round}: killed after line ${killAfter} ("${result.lastLine}"), last ack ${result.lastAck}, loaded = ${matched ?? 'no match'}`,
    )
    assert.ok(
      matched !== undefined,
      `round ${round}: the stored text (hash ${loadedHash}) is neither the last acknowledged append ${result.lastAck}` +
        ` nor the one in flight (${result.inFlight}); earlier hashes match: ${
          [...result.hashes].find(([, h]) => h === loadedHash)?.[0] ?? 'none'
        }\nstderr:\n${result.stderr}`,
    )
    count = matched
    expectedHash = loadedHash
  }
  assert.ok(count > 0, 'the writers made progress')
})
