/**
 * `node --import tsx bench/standing.ts [--since 2026-12-05T23] [--dir bench/results]`: Tandem's
 * standing over many full runs, read back from their JSON.
 *
 * One run's report says which rows Tandem is behind on (report.ts, `standing`), but a row within
 * the spread of its repetitions falls on either side from one run to the next. Which rows lose
 * steadily shows only across runs: this prints each full run of the default suite (`npm run
 * bench`, no options: the same scenarios, servers and repetitions) with the rows it was not first
 * on, then, for every row behind at least once, in how many runs it was behind, in how many
 * clearly (Tandem's best repetition worse than the better peer's worst), and the range of its
 * ratio to the better peer, as a markdown table for docs/benchmarks.md.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { advantage, isFirst, standing, type Results, type Standing } from './report.js'
import { REPO } from './servers/process.js'

const { values } = parseArgs({
  options: {
    since: { type: 'string', default: '' },
    dir: { type: 'string', default: path.join(REPO, 'bench/results') },
  },
})

/** Above 1 ahead of the better peer, as in the reports. */
const ratio = (s: Standing): number => advantage(s.tandem.median, s.best.median, s.row)

interface Tally {
  runs: number
  behind: number
  clearly: number
  low: number
  high: number
}

const tallies = new Map<string, Tally>()
let runs = 0
// File names start with the run's start time, so a name comparison is a time comparison.
const files = fs.readdirSync(values.dir).filter((f) => f.endsWith('-full.json') && f >= values.since).sort()
for (const file of files) {
  const results = JSON.parse(fs.readFileSync(path.join(values.dir, file), 'utf8')) as Results
  if (results.command !== 'npm run bench') continue
  runs++
  const rows = standing(results)
  const behind = rows.filter((s) => !isFirst(s.verdict))
  const list = behind.map((s) => `${s.scenario}: ${s.row.label} ${ratio(s).toFixed(2)}x (${s.verdict})`).join('; ')
  console.log(
    `${file}  Tandem at ${results.machine.git}, ${results.totalSeconds.toFixed(0)} s: first on ${rows.length - behind.length} of ${rows.length}` +
      (list ? `; behind: ${list}` : ''),
  )
  for (const s of rows) {
    const key = `${s.scenario}: ${s.row.label}`
    const t = tallies.get(key) ?? { runs: 0, behind: 0, clearly: 0, low: Infinity, high: -Infinity }
    t.runs++
    if (!isFirst(s.verdict)) t.behind++
    if (s.verdict === 'behind') t.clearly++
    t.low = Math.min(t.low, ratio(s))
    t.high = Math.max(t.high, ratio(s))
    tallies.set(key, t)
  }
}

console.log(`\n${runs} full runs of \`npm run bench\`${values.since ? ` since ${values.since}` : ''}\n`)
console.log('| row | behind in | of which clearly | ratio to the better peer, lowest to highest |')
console.log('| --- | --- | --- | --- |')
const rows = [...tallies].filter(([, t]) => t.behind > 0).sort((a, b) => b[1].behind - a[1].behind || b[1].clearly - a[1].clearly)
for (const [key, t] of rows) {
  console.log(`| ${key} | ${t.behind} of ${t.runs} | ${t.clearly} | ${t.low.toFixed(2)}-${t.high.toFixed(2)}x |`)
}
