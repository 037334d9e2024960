/**
 * Builds the editor (client/ → client/dist) with Vite when the build is missing or older than
 * any of its sources, so `npm start` and the e2e suite never serve a stale editor.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const clientDir = path.join(repo, 'client')
const builtIndex = path.join(clientDir, 'dist', 'index.html')

/** The newest modification time under `entry` (a file or a folder; builds and dependencies skipped). */
export function newestMtime(entry: string): number {
  let stat: fs.Stats
  try {
    stat = fs.statSync(entry)
  } catch {
    return 0
  }
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const child of fs.readdirSync(entry)) {
    if (child === 'dist' || child === 'node_modules') continue
    newest = Math.max(newest, newestMtime(path.join(entry, child)))
  }
  return newest
}

export function clientBuildIsStale(): boolean {
  let built: number
  try {
    built = fs.statSync(builtIndex).mtimeMs
  } catch {
    return true
  }
  const sources = Math.max(newestMtime(clientDir), newestMtime(path.join(repo, 'package-lock.json')))
  return sources > built
}

export async function buildClient(options: { force?: boolean } = {}): Promise<void> {
  if (!options.force && !clientBuildIsStale()) return
  process.stdout.write('Building the editor (client/dist)...\n')
  const { build } = await import('vite')
  await build({ configFile: path.join(clientDir, 'vite.config.ts'), logLevel: 'warn' })
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildClient({ force: process.argv.includes('--force') }).catch((err) => {
    process.stderr.write(`client build failed: ${err?.stack ?? err}\n`)
    process.exit(1)
  })
}
