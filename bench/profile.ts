/**
 * `node --import tsx bench/profile.ts <file.cpuprofile> [top]`: where a server spent its CPU.
 * Self time by function and by package, from a V8 profile written with
 * BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=bench/tmp/prof" npm run bench -- --only fanout --servers tandem
 */
import fs from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
}

const [file, topArg] = process.argv.slice(2)
if (!file) throw new Error('usage: bench/profile.ts <file.cpuprofile> [top]')
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const total = [...selfUs.values()].reduce((a, b) => a + b, 0)

const where = (url: string) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return m[1]!
  if (url.includes('/server/src/')) return 'tandem:' + url.slice(url.indexOf('/server/src/') + 12)
  if (url.startsWith('node:')) return url
  return url ? url.replace(/^.*\//, '') : '(native/gc/idle)'
}
const fns = new Map<string, number>()
const pkgs = new Map<string, number>()
for (const [id, us] of selfUs) {
  const node = byId.get(id)!
  const fn = `${node.callFrame.functionName || '(anonymous)'} ${where(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`
  fns.set(fn, (fns.get(fn) ?? 0) + us)
  const pkg = node.callFrame.url ? where(node.callFrame.url).split(':')[0]! : node.callFrame.functionName
  pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us)
}
const show = (title: string, map: Map<string, number>, top: number) => {
  console.log(`\n${title}`)
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`)
  }
}
console.log(`total sampled ${(total / 1000).toFixed(0)} ms`)
show('self time by package', pkgs, 15)
show('self time by function', fns, Number(topArg ?? 30))
