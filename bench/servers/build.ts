/**
 * Every server under test runs as JavaScript on plain node, as it would be deployed: Tandem as
 * `npm start` runs it (dist/server, compiled by scripts/server-build.ts), the peers' entry points
 * and the probe compiled here into bench/tmp/servers. A TypeScript loader in the server process
 * would add a worker thread and some 28 MB to every RSS reading. The load processes' worker is
 * compiled too (bench/tmp/compiled): under the loader each of the suite's 100 or so load
 * processes took 0.55 s to start instead of 0.1 s.
 */
import path from 'node:path'
import { buildServer, compile } from '../../scripts/server-build.js'
import { REPO } from './process.js'

const OUT = path.join(REPO, 'bench/tmp/servers')

/** The compiled form of one of this folder's entry points (`probe.ts`, `ywebsocket-main.ts`...). */
export function compiled(file: string): string {
  return path.join(OUT, file.replace(/\.ts$/, '.js'))
}

/** What a load process runs (bench/load/worker.ts, compiled by buildServers). */
export const LOAD_WORKER = path.join(REPO, 'bench/tmp/compiled/bench/load/worker.js')

/** Builds Tandem if stale, and compiles the probe, the peers' entry points and the load worker. */
export function buildServers(): void {
  buildServer()
  compile(path.join(REPO, 'bench/servers/tsconfig.build.json'))
  compile(path.join(REPO, 'bench/load/tsconfig.build.json'))
}
