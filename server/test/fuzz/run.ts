/**
 * `npm run fuzz`: the properties of server/test/fuzz.test.ts, run far longer (20 000 decoder
 * runs, 5 000 hostile frames against a live server; FUZZ_RUNS and FUZZ_FRAMES change that).
 * Prints its seed first; FUZZ_SEED=<n> replays a run. Exits non-zero on any failure, or when it
 * outlives FUZZ_DEADLINE_S (default 240 s), since a hang is a failure too.
 */
import { Cleanup } from '../helpers/cleanup.js'
import { fuzzSeed } from './arbitraries.js'
import { fuzzDecoder } from './decoder.js'
import { fuzzLiveServer } from './live.js'

function count(name: string, fallback: number): number {
  const text = process.env[name]
  if (text === undefined || text.trim() === '') return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number, got ${JSON.stringify(text)}`)
  return n
}

const seed = fuzzSeed()
const runs = count('FUZZ_RUNS', 20_000)
const frames = count('FUZZ_FRAMES', 5_000)
const deadline = setTimeout(() => {
  process.stderr.write(`fuzz: still running after the deadline; replay with FUZZ_SEED=${seed}\n`)
  process.exit(1)
}, count('FUZZ_DEADLINE_S', 240) * 1000)
deadline.unref()

const log = (line: string) => process.stdout.write(`${line}\n`)
log(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`)
const cleanup = new Cleanup()
let failed = false
try {
  let started = performance.now()
  fuzzDecoder({ seed, numRuns: runs })
  log(`decoder: ${runs} runs passed in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  started = performance.now()
  const report = await fuzzLiveServer(cleanup, { seed, frames, log })
  log(
    `live server: ${report.frames} hostile frames passed in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
      `closes ${JSON.stringify(report.closes)}; ${report.honestEdits} honest edits`,
  )
  log(`(${report.reused} of them were updates reusing another frame's Yjs client id)`)
} catch (err) {
  failed = true
  process.stderr.write(`fuzz: FAILED (replay with FUZZ_SEED=${seed})\n${(err as Error)?.stack ?? String(err)}\n`)
} finally {
  await cleanup.run().catch((err) => {
    failed = true
    process.stderr.write(`fuzz: teardown failed: ${String(err)}\n`)
  })
}
process.exit(failed ? 1 : 0)
