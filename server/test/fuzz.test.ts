/**
 * Property-based fuzzing, bounded to a few seconds for every run of the suite (`npm run fuzz`
 * runs the same properties far longer). Each prints its seed; FUZZ_SEED=<n> replays it.
 */
import { Cleanup } from './helpers/cleanup.js'
import { fuzzSeed } from './fuzz/arbitraries.js'
import { fuzzDecoder } from './fuzz/decoder.js'
import { fuzzLiveServer } from './fuzz/live.js'
import { test } from './helpers/test.js'

const seed = fuzzSeed()

test('1. decoder: random, mutated, truncated, over-long and oversized frames decode or throw MALFORMED_MESSAGE', (t) => {
  t.diagnostic(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`)
  fuzzDecoder({ seed, numRuns: 200 })
})

test('2. live server: a hostile client sending about 100 generated frames among honest editors harms nothing', async (t) => {
  t.diagnostic(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`)
  const cleanup = new Cleanup(t)
  const report = await fuzzLiveServer(cleanup, { seed, frames: 100, log: (line) => t.diagnostic(line) })
  t.diagnostic(`${report.frames} hostile frames, closes ${JSON.stringify(report.closes)}, ${report.honestEdits} honest edits`)
  t.diagnostic(`(${report.reused} of them were updates reusing another frame's Yjs client id)`)
})
