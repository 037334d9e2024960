/**
 * `npm run bench [-- --quick] [--only fanout,replay] [--servers tandem,ywebsocket] [--reps N] [--baseline REV] [--wait-stored] [--echo]`
 *
 * Runs every scenario against every server, each server in its own process with its own temp
 * data dir, driven by a separate load process. The opt-in scenarios (presence) run only when
 * --only names them. Servers are interleaved within each repetition (and their order rotates
 * between repetitions), so a slow minute of the machine does not land on one server. Writes
 * bench/results/<timestamp>.json, .md and the latency chart.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { traceCache } from './load/trace.js'
import { buildBaseline } from './servers/baseline.js'
import { buildServers } from './servers/build.js'
import { FULL, QUICK, STORED_WAIT_MS, type Params } from './params.js'
import { writeReport, type RunRecord } from './report.js'
import { SCENARIOS } from './scenarios/index.js'
import { DEFAULT_SERVERS, SERVER_NAMES, SERVERS, type ServerName } from './servers/index.js'
import { REPO } from './servers/process.js'
import { withTimeout } from './load/wait.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    servers: { type: 'string' },
    reps: { type: 'string' },
    baseline: { type: 'string' },
    'wait-stored': { type: 'boolean', default: false },
    echo: { type: 'boolean', default: false },
  },
})

const base: Params = values.quick ? QUICK : FULL
const params: Params = {
  ...base,
  reps: values.reps ? Number(values.reps) : base.reps,
  replay: values['wait-stored'] ? { ...base.replay, storedWaitMs: STORED_WAIT_MS } : base.replay,
  echo: values.echo,
}
const servers = (values.servers?.split(',') ?? [...DEFAULT_SERVERS]) as ServerName[]
for (const s of servers) if (!SERVER_NAMES.includes(s)) usage(`unknown server ${s}; one of ${SERVER_NAMES.join(', ')}`)
// --baseline REV runs Tandem at REV beside the current Tandem, right after it in every repetition's order.
if (values.baseline !== undefined && !servers.includes('tandem-base')) servers.splice(servers.indexOf('tandem') + 1, 0, 'tandem-base')
if (servers.includes('tandem-base') && values.baseline === undefined) usage('tandem-base is Tandem at another commit: name it with --baseline REV')
const only = values.only?.split(',')
// The opt-in scenarios run only when named.
const scenarios = SCENARIOS.filter((s) => (only ? only.includes(s.name) : !s.optIn))
if (only) for (const name of only) if (!SCENARIOS.some((s) => s.name === name)) usage(`unknown scenario ${name}; one of ${SCENARIOS.map((s) => s.name).join(', ')}`)
// Refused before anything runs, rather than a column of failures at the end of a long run.
const clusterServers = servers.filter((s) => SERVERS[s].cluster)
const singleOnly = scenarios.filter((s) => !s.clusters)
if (clusterServers.length > 0 && singleOnly.length > 0) {
  usage(
    `the Postgres + Redis entries (${clusterServers.join(', ')}) run only the ${SCENARIOS.filter((s) => s.clusters).map((s) => s.name).join(' and ')} scenarios, ` +
      `not ${singleOnly.map((s) => s.name).join(', ')} (they restart the server or read one process's memory); ` +
      `add --only ${SCENARIOS.filter((s) => s.clusters).map((s) => s.name).join(',')}`,
  )
}

const tmpRoot = path.join(REPO, 'bench/tmp', `run-${process.pid}`)
const started = new Date()
const t0 = performance.now()
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)}s`.padStart(5)

// Read before the build, which is what every run measures: sources edited while the suite
// runs reach no server, so they must not mark the report.
const measured = gitState()
buildServers()
if (values.baseline !== undefined) {
  try {
    console.log(`Baseline: Tandem at ${buildBaseline(values.baseline)}`)
  } catch (err) {
    usage(`--baseline ${values.baseline}: ${(err as Error).message.split('\n')[0]}`)
  }
}
const trace = traceCache(path.join(REPO, 'bench/tmp/trace'), [params.replay.updates, params.memory.docUpdates])
const records: RunRecord[] = []

process.on('SIGINT', () => {
  fs.rmSync(tmpRoot, { recursive: true, force: true })
  process.exit(130)
})

try {
  for (const scenario of scenarios) {
    for (let rep = 0; rep < params.reps; rep++) {
      // Rotate the order each repetition: every server goes first once in three.
      const order = servers.map((_, i) => servers[(i + rep) % servers.length]!)
      for (const name of order) {
        const def = SERVERS[name]
        const record: RunRecord = { scenario: scenario.name, server: name, rep, metrics: {}, notes: [] }
        const limit = scenario.timeoutMs(params)
        const runStarted = performance.now()
        const killers: Array<() => void> = []
        let running: Promise<void> = Promise.resolve()
        try {
          await withTimeout(
            (running = scenario.run({
              def,
              params,
              tmpRoot,
              trace,
              metrics: record.metrics,
              notes: record.notes,
              log: (m) => console.log(`${elapsed()} ${scenario.name} #${rep + 1} ${name}: ${m}`),
              onAbort: (kill) => killers.push(kill),
            })),
            limit,
            `${scenario.name} on ${name}`,
          )
        } catch (err) {
          record.error = (err as Error).message.split('\n')[0]
          console.log(`${elapsed()} ${scenario.name} #${rep + 1} ${name}: FAILED ${record.error}`)
          // Whatever the run left behind dies now, before the next run starts.
          for (const kill of killers) kill()
          await withTimeout(running, 20_000, 'cleanup').catch(() => {})
        }
        record.ms = performance.now() - runStarted
        // Other work on the machine shows here: 2 cores are busy at a load of 2.
        record.load1 = os.loadavg()[0]
        records.push(record)
      }
    }
  }
} finally {
  fs.rmSync(tmpRoot, { recursive: true, force: true })
}

const files = writeReport({
  started: started.toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  mode: values.quick ? 'quick' : 'full',
  params,
  machine: {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGB: Math.round(os.totalmem() / 1e9),
    node: process.version,
    kernel: os.release(),
    git: measured,
  },
  servers,
  scenarios: scenarios.map((s) => s.name),
  totalSeconds: (performance.now() - t0) / 1000,
  records,
})
console.log(`${elapsed()} done; wrote ${files.join(', ')}`)
// A load process or server that outlived its run must not keep the harness alive.
process.exit(0)

/** A mistake in the command line: say what, and stop before anything runs. */
function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n`)
  process.exit(2)
}

/** The commit measured, and whether the server's sources differed from it when it was built. */
function gitState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO }).toString().trim()
    const dirty = execFileSync('git', ['status', '--porcelain', 'server/src'], { cwd: REPO }).toString().trim()
    return dirty ? `${head} with uncommitted changes in server/src` : head
  } catch {
    return 'unknown'
  }
}
