/**
 * `node --import tsx bench/relay-trace.ts <dir>`: what the relay trace (servers/relay-trace.ts)
 * recorded, per server process: for each common burst size (a fan-out keystroke relayed to 50,
 * then to 200 readers), the median over bursts of the time from the burst's first read to its
 * first write, its middle write, its last write, and to each mark.
 *
 * BENCH_RELAY_TRACE=bench/tmp/relay npm run bench -- --only fanout --reps 1
 */
import fs from 'node:fs'
import path from 'node:path'

interface Burst {
  reads: number
  writes: number[]
  /** CPU time at each write, and the socket of each (absent in traces recorded before). */
  cpu?: number[]
  cpu0?: number
  sockets?: number[]
  marks: Record<string, number>
}

const dir = process.argv[2]
if (!dir) throw new Error('usage: bench/relay-trace.ts <dir>')
for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const { argv, bursts } = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as { argv: string[]; bursts: Burst[] }
  console.log(`${name}: ${argv.find((a) => a.endsWith('.js') && !a.includes('probe') && !a.includes('relay-trace')) ?? argv.join(' ')}`)
  const bySize = new Map<number, Burst[]>()
  for (const b of bursts) if (b.writes.length > 0) bySize.set(b.writes.length, [...(bySize.get(b.writes.length) ?? []), b])
  // Sizes that recur: one keystroke's relay, not the joins, the warm-up's odd bursts or the end.
  for (const [size, of] of [...bySize].filter(([, v]) => v.length >= 10).sort((a, b) => a[0] - b[0])) {
    const cols: Array<[string, (b: Burst) => number | undefined]> = [
      ['first write', (b) => b.writes[0]],
      ['middle write', (b) => b.writes[b.writes.length >> 1]],
      ['last write', (b) => b.writes.at(-1)],
      ...[...new Set(of.flatMap((b) => Object.keys(b.marks)))].map((m): [string, (b: Burst) => number | undefined] => [m, (b) => b.marks[m]]),
    ]
    const cells = cols.map(([label, get]) => `${label} ${median(of.map(get).filter((v): v is number => v !== undefined)).toFixed(3)}`)
    console.log(`  ${size} writes (${of.length} bursts, reads ${median(of.map((b) => b.reads))}): ${cells.join(', ')} ms`)
    // From the first write to the last: wall time against the server's own CPU time. The rest
    // is time the server was runnable or blocked but not running (on this machine: a reader's
    // load process, just woken by a write, running on the server's core).
    const spans = of.filter((b) => b.cpu0 !== undefined && b.cpu?.length === b.writes.length && b.sockets?.length === b.writes.length && b.writes.length > 1)
    if (spans.length > 0) {
      const wall = median(spans.map((b) => b.writes.at(-1)! - b.writes[0]!))
      const cpu = median(spans.map((b) => b.cpu!.at(-1)! - b.cpu![0]!))
      const second = median(spans.map((b) => b.writes[secondWrite(b)]! - b.writes[0]!))
      const secondCpu = median(spans.map((b) => b.cpu![secondWrite(b)]! - b.cpu![0]!))
      const firstCpu = median(spans.map((b) => b.cpu![0]! - b.cpu0!))
      console.log(
        `    read to first write CPU ${firstCpu.toFixed(3)} ms; first to last write ${wall.toFixed(3)} ms, CPU ${cpu.toFixed(3)} ms; ` +
          `to the second reader's write ${second.toFixed(3)} ms, CPU ${secondCpu.toFixed(3)} ms`,
      )
    }
  }
}

/** The index of the first write to another socket than the first write's. */
function secondWrite(b: Burst): number {
  const index = b.sockets?.findIndex((socket) => socket !== b.sockets![0]) ?? -1
  return index > 0 ? index : 1
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b)
  return sorted[sorted.length >> 1] ?? NaN
}
