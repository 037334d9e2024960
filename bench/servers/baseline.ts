/**
 * Tandem as it was at another commit, run beside the current one (`--baseline REV`): a change
 * to the server is judged in one interleaved run, on the same minutes of the same machine,
 * rather than against figures from another run. Timings here move by 10-20 % from run to run
 * (other work on the machine, which core the scheduler picks), more than most single changes.
 *
 * The commit's server/ is extracted with `git archive` into bench/tmp/baseline and compiled
 * with its own tsconfig.build.json; it runs on this checkout's node_modules. Commits from
 * before the server was compiled (ee85cc0) have no such tsconfig and are refused.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { compile } from '../../scripts/server-build.js'
import { REPO } from './process.js'

const DIR = path.join(REPO, 'bench/tmp/baseline')
/** What the `tandem-base` server runs. */
export const BASELINE_ENTRY = path.join(DIR, 'dist/server/main.js')

/** Extracts and compiles the server at `rev`; returns the commit it names. Throws with the reason. */
export function buildBaseline(rev: string): string {
  let commit: string
  try {
    commit = git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]).toString().trim()
  } catch {
    throw new Error(`${rev} is not a commit of this repository`)
  }
  fs.rmSync(DIR, { recursive: true, force: true })
  fs.mkdirSync(DIR, { recursive: true })
  execFileSync('tar', ['-x', '-C', DIR], { input: git(['archive', '--format=tar', commit, 'server']) })
  const tsconfig = path.join(DIR, 'server/tsconfig.build.json')
  if (!fs.existsSync(tsconfig)) throw new Error(`${rev} has no server/tsconfig.build.json: the baseline must be a commit from ee85cc0 on`)
  compile(tsconfig)
  return commit
}

function git(args: string[]): Buffer {
  return execFileSync('git', args, { cwd: REPO, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] })
}
