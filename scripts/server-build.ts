/**
 * Compiles the server (server/src → dist/server) with tsc when the build is missing or older than
 * any of its sources. `npm start` runs the compiled JavaScript with plain node: no TypeScript
 * loader in production, which costs a worker thread and about 28 MB of memory for the life of the
 * process, and transforms every module at start-up.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { newestMtime } from './client-build.js'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const outDir = path.join(repo, 'dist', 'server')
/** What `npm start` runs. */
export const SERVER_ENTRY = path.join(outDir, 'main.js')

export function serverBuildIsStale(): boolean {
  // 0 when there is no build yet.
  const built = newestMtime(SERVER_ENTRY)
  if (built === 0) return true
  const sources = Math.max(
    newestMtime(path.join(repo, 'server', 'src')),
    newestMtime(path.join(repo, 'server', 'tsconfig.json')),
    newestMtime(path.join(repo, 'server', 'tsconfig.build.json')),
    newestMtime(path.join(repo, 'package-lock.json')),
  )
  return sources > built
}

export function buildServer(options: { force?: boolean } = {}): void {
  if (!options.force && !serverBuildIsStale()) return
  process.stdout.write('Building the server (dist/server)...\n')
  // From scratch: a module removed from server/src must not linger in the build.
  fs.rmSync(outDir, { recursive: true, force: true })
  compile(path.join(repo, 'server', 'tsconfig.build.json'))
}

/** Runs the project's own tsc on a tsconfig that emits; throws when it fails. */
export function compile(tsconfig: string): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const result = spawnSync(process.execPath, [tsc, '-p', tsconfig], { stdio: 'inherit' })
  if (result.status !== 0) throw new Error(`tsc -p ${path.relative(repo, tsconfig)} failed (exit ${result.status ?? result.signal})`)
}
