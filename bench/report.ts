/**
 * Results: bench/results/<timestamp>.json (every run, every metric, and the medians),
 * <timestamp>.md (Tandem's standing against the better peer, row by row, then a table per
 * scenario, servers side by side, ratios to Tandem, or to the first server listed when Tandem is
 * not among them) and
 * <timestamp>-latency.svg (fan-out latency against readers).
 */
import fs from 'node:fs'
import path from 'node:path'
import { latencyChart } from './chart.js'
import { median } from './metrics.js'
import type { Params } from './params.js'
import { SCENARIOS } from './scenarios/index.js'
import type { Row } from './scenarios/types.js'
import { DEFAULT_SERVERS, SERVERS, type ServerName } from './servers/index.js'
import { REPO } from './servers/process.js'

export interface RunRecord {
  readonly scenario: string
  readonly server: ServerName
  readonly rep: number
  readonly metrics: Record<string, number>
  readonly notes: string[]
  error?: string
  ms?: number
  /** 1-minute load average at the end of the run (the harness itself accounts for about 2). */
  load1?: number
}

export interface Results {
  readonly started: string
  readonly command: string
  readonly mode: 'quick' | 'full'
  readonly params: Params
  readonly machine: { cpu: string; cores: number; memoryGB: number; node: string; kernel: string; git: string }
  readonly servers: ServerName[]
  readonly scenarios: string[]
  readonly totalSeconds: number
  readonly records: RunRecord[]
}

/** Median of each metric over the repetitions that produced it. */
export type Medians = Record<string, Record<ServerName, Record<string, { value: number; n: number }>>>

export function medians(results: Results): Medians {
  const out: Medians = {}
  for (const scenario of results.scenarios) {
    out[scenario] = {} as Medians[string]
    for (const server of results.servers) {
      const runs = results.records.filter((r) => r.scenario === scenario && r.server === server)
      const keys = new Set(runs.flatMap((r) => Object.keys(r.metrics)))
      const metrics: Record<string, { value: number; n: number }> = {}
      for (const key of keys) {
        const values = runs.map((r) => r.metrics[key]).filter((v): v is number => v !== undefined && Number.isFinite(v))
        metrics[key] = { value: median(values), n: values.length }
      }
      out[scenario]![server] = metrics
    }
  }
  return out
}

export function writeReport(results: Results): string[] {
  const dir = path.join(REPO, 'bench/results')
  fs.mkdirSync(dir, { recursive: true })
  const stamp = results.started.replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z')
  const base = path.join(dir, `${stamp}-${results.mode}`)
  const m = medians(results)
  fs.writeFileSync(`${base}.json`, JSON.stringify({ ...results, medians: m }, null, 1) + '\n')
  const files = [`${base}.json`]
  const svg = results.scenarios.includes('fanout') ? latencyChart(results, m) : null
  if (svg) {
    fs.writeFileSync(`${base}-latency.svg`, svg)
    files.push(`${base}-latency.svg`)
  }
  fs.writeFileSync(`${base}.md`, markdown(results, m, svg ? path.basename(`${base}-latency.svg`) : null))
  files.push(`${base}.md`)
  return files.map((f) => path.relative(REPO, f))
}

export function markdown(results: Results, m: Medians, chart: string | null): string {
  const lines: string[] = []
  const { machine } = results
  lines.push(`## ${results.mode === 'quick' ? 'Quick run' : 'Full run'}, ${results.started}`, '')
  lines.push(`- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB, Linux ${machine.kernel}, Node ${machine.node}`)
  lines.push(`- Command: \`${results.command}\` (${results.totalSeconds.toFixed(0)} s); Tandem at ${machine.git}`)
  lines.push(`- Repetitions: ${results.params.reps}; every cell is the median over them (a cell marked (k/n) had only k good runs)`)
  lines.push(`- Servers: ${results.servers.map((s) => SERVERS[s].label).join('; ')}`)
  if (results.servers.some((s) => SERVERS[s].cluster)) {
    lines.push(
      '- Postgres + Redis entries: a fresh Postgres schema and Redis prefix per run; with two instances, fan-out readers ' +
        'alternate between them (the typist on the first) and the members of each room alternate, so every room spans ' +
        "both. Server CPU and RSS are summed over the instances, event-loop lag is the worst instance's; Postgres CPU " +
        "counts the run's own backends, Redis CPU the whole Redis process",
    )
  }
  const loads = results.records.map((r) => r.load1).filter((v): v is number => v !== undefined)
  if (loads.length) {
    lines.push(`- Load average (1 min) after each run: ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)} (about 2 is the harness alone on 2 cores; more means other work shared the machine)`)
  }
  lines.push('')
  const standings = standing(results)
  if (standings.length > 0) lines.push(...standingSection(standings, results.params.reps), '')
  for (const name of results.scenarios) {
    const scenario = SCENARIOS.find((s) => s.name === name)!
    lines.push(`### ${scenario.title}`, '', scenario.describe(results.params), '')
    lines.push(table(results, m, name, scenario.rows(results.params)), '')
    const failures = results.records.filter((r) => r.scenario === name && (r.error || r.notes.length > 0))
    for (const r of failures) {
      const what = [r.error ? `failed: ${r.error}` : null, ...r.notes].filter(Boolean).join('; ')
      lines.push(`- ${SERVERS[r.server].label}, repetition ${r.rep + 1}: ${what}`)
    }
    if (failures.length) lines.push('')
    if (name === 'fanout' && chart) lines.push(`![Fan-out latency against readers](${chart})`, '')
  }
  return lines.join('\n')
}

/** The server the others are compared with: Tandem (SQLite) when it ran, else the first listed. */
function baseline(servers: readonly ServerName[]): ServerName {
  return servers.includes('tandem') ? 'tandem' : servers[0]!
}

function table(results: Results, m: Medians, scenario: string, rows: Row[]): string {
  const servers = results.servers
  const base = baseline(servers)
  const peers = servers.filter((s) => s !== base)
  const head = ['', ...servers.map((s) => SERVERS[s].label.split(' (')[0]!), ...peers.map((p) => `${SERVERS[p].short} / ${SERVERS[base].short}`)]
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`]
  for (const row of rows) {
    if (row.optional && servers.every((s) => !m[scenario]?.[s]?.[row.key]?.n)) continue
    const cells = servers.map((s) => cell(results, m, scenario, s, row))
    const ratios = peers.map((p) => ratio(m[scenario]?.[base]?.[row.key]?.value, m[scenario]?.[p]?.[row.key]?.value, row))
    out.push(`| ${row.label} | ${[...cells, ...ratios].join(' | ')} |`)
  }
  return out.join('\n')
}

function cell(results: Results, m: Medians, scenario: string, server: ServerName, row: Row): string {
  const entry = m[scenario]?.[server]?.[row.key]
  const runs = results.records.filter((r) => r.scenario === scenario && r.server === server)
  if (!entry || entry.n === 0) {
    const error = runs.find((r) => r.error)?.error
    return error ? `failed: ${error.replace(/\|/g, '/')}` : 'n/a'
  }
  const text = format(entry.value, row.unit)
  return entry.n < runs.length ? `${text} (${entry.n}/${runs.length})` : text
}

export function format(value: number, unit: Row['unit']): string {
  if (!Number.isFinite(value)) return 'n/a'
  const digits = (v: number) => (Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0)
  switch (unit) {
    case 'count':
      return String(Math.round(value))
    case '%':
      return `${value.toFixed(0)} %`
    case 'us':
      return `${value.toFixed(1)} µs`
    default:
      return `${value.toFixed(digits(value))} ${unit}`
  }
}

/** The peer's value over the baseline's when lower is better (so above 1 means the baseline wins), else the inverse. */
function ratio(base: number | undefined, peer: number | undefined, row: Row): string {
  if (base === undefined || peer === undefined || !Number.isFinite(base) || !Number.isFinite(peer)) return 'n/a'
  if (row.unit === 'count') return base === peer ? '=' : `${peer - base > 0 ? '+' : ''}${Math.round(peer - base)}`
  if (base === 0 || peer === 0) return base === peer ? '1.0' : 'n/a'
  // A difference of two readings can come out below zero (per loaded document, for a server
  // that keeps almost nothing): it is under the noise, and a ratio of it means nothing.
  if (base < 0 || peer < 0) return 'n/a (below 0)'
  const r = advantage(base, peer, row)
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(r >= 1 ? 1 : 2)}×`
}

/** How far the baseline is ahead of the peer on `row`: above 1 ahead, below 1 behind. */
export function advantage(base: number, peer: number, row: Row): number {
  return row.better === 'lower' ? peer / base : base / peer
}

/** The servers Tandem is measured against: the suite's own, not Tandem at another commit or on another store. */
const PEERS: readonly ServerName[] = DEFAULT_SERVERS.filter((s) => s !== 'tandem')

/** One row's repetitions for one server. */
interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

export type Verdict = 'first' | 'first within the spread' | 'level' | 'behind within the spread' | 'behind'

/** Whether a row's median put Tandem first, by a margin wider than the spread or not. */
export function isFirst(verdict: Verdict): boolean {
  return verdict === 'first' || verdict === 'first within the spread'
}

export interface Standing {
  readonly scenario: string
  readonly row: Row
  readonly tandem: Spread
  /** The peer with the better median on this row. */
  readonly peer: ServerName
  readonly best: Spread
  readonly verdict: Verdict
}

/**
 * Tandem against the better of the peers, row by row. A median alone says which side a row
 * fell on in this run; whether the repetitions overlap says whether the next run may put it on
 * the other: a row is "first" (or "behind") only when Tandem's worst repetition beats the
 * peer's best (or its best loses to the peer's worst), and "within the spread" otherwise.
 * Rows with a count (keystrokes lost) are left out when every server has the same.
 */
export function standing(results: Results): Standing[] {
  if (!results.servers.includes('tandem')) return []
  const peers = PEERS.filter((p) => results.servers.includes(p))
  if (peers.length === 0) return []
  const out: Standing[] = []
  for (const name of results.scenarios) {
    const scenario = SCENARIOS.find((s) => s.name === name)
    if (!scenario) continue
    for (const row of scenario.rows(results.params)) {
      const tandem = spread(results, name, 'tandem', row.key)
      if (!tandem) continue
      const lower = row.better === 'lower'
      const measured = peers
        .map((peer) => ({ peer, best: spread(results, name, peer, row.key) }))
        .filter((p): p is { peer: ServerName; best: Spread } => p.best !== null)
      if (measured.length === 0) continue
      const { peer, best } = measured.reduce((a, b) => ((lower ? b.best.median < a.best.median : b.best.median > a.best.median) ? b : a))
      if (row.unit === 'count' && tandem.median === best.median) continue
      // A difference of two readings below zero is under the noise (see ratio()).
      if (tandem.median < 0 || best.median < 0) continue
      out.push({ scenario: name, row, tandem, peer, best, verdict: verdict(tandem, best, lower) })
    }
  }
  return out
}

function spread(results: Results, scenario: string, server: ServerName, key: string): Spread | null {
  const values = results.records
    .filter((r) => r.scenario === scenario && r.server === server)
    .map((r) => r.metrics[key])
    .filter((v): v is number => v !== undefined && Number.isFinite(v))
  if (values.length === 0) return null
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) }
}

function verdict(tandem: Spread, peer: Spread, lower: boolean): Verdict {
  if (tandem.median === peer.median) return 'level'
  const ahead = lower ? tandem.median < peer.median : tandem.median > peer.median
  // Tandem's worst repetition against the peer's best, and the other way round.
  const clearlyAhead = lower ? tandem.max < peer.min : tandem.min > peer.max
  const clearlyBehind = lower ? tandem.min > peer.max : tandem.max < peer.min
  if (ahead) return clearlyAhead ? 'first' : 'first within the spread'
  return clearlyBehind ? 'behind' : 'behind within the spread'
}

function standingSection(standings: readonly Standing[], reps: number): string[] {
  const count = (v: Verdict) => standings.filter((s) => s.verdict === v).length
  const first = standings.filter((s) => isFirst(s.verdict)).length
  const lines = [
    '### Standing against the better peer',
    '',
    reps > 1
      ? `Tandem first on ${first} of ${standings.length} rows; on ${count('first')} of them its worst repetition beat the ` +
        "better peer's best. A row within the spread may fall on the other side in the next run."
      : `Tandem first on ${first} of ${standings.length} rows (one repetition: no spread to judge a margin by).`,
    '',
  ]
  const notClear = standings.filter((s) => s.verdict !== 'first')
  if (notClear.length === 0) return lines.slice(0, -1)
  lines.push('| row | Tandem (range) | better peer (range) | ratio | verdict |', '| --- | --- | --- | --- | --- |')
  for (const s of notClear) {
    const { unit } = s.row
    // "2.58-2.64 ms": the unit once, after the range; none for a single repetition.
    const range = (x: Spread) =>
      x.min === x.max ? format(x.median, unit) : `${format(x.median, unit)} (${format(x.min, unit).split(' ')[0]}-${format(x.max, unit)})`
    lines.push(
      `| ${s.scenario}: ${s.row.label} | ${range(s.tandem)} | ${SERVERS[s.peer].short}: ${range(s.best)} | ${ratio(s.tandem.median, s.best.median, s.row)} | ${s.verdict} |`,
    )
  }
  return lines
}
