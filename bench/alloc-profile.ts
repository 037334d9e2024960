/**
 * `node --import tsx bench/alloc-profile.ts [--after S] [--for S] [--survivors] [--port P]`:
 * where a server under load allocates, sampled by V8's heap profiler over the inspector.
 *
 * Start the server with the inspector open, then this alongside it:
 *
 *   BENCH_SERVER_FLAGS=--inspect=127.0.0.1:9229 npm run bench -- --only rooms --servers tandem --reps 1
 *   node --import tsx bench/alloc-profile.ts --after 6 --for 4
 *
 * It waits for the inspector to answer, then `--after` seconds (to skip start-up and the joins),
 * and samples for `--for` seconds. By default the objects young-generation collections free are
 * counted too: what the server allocates, which sets how often it scavenges. With `--survivors`
 * they are left out: what lived through a scavenge, which sets how long each one takes and what
 * is promoted (the thirteenth session's changes to room.ts came from this view). Prints bytes by
 * allocating function and by the last frames of the stack.
 */
import { WebSocket } from 'ws'

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}
interface ProfileNode {
  readonly callFrame: CallFrame
  readonly selfSize: number
  readonly children: readonly ProfileNode[]
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const afterS = option('--after', 6)
const forS = option('--for', 4)
const port = option('--port', 9229)
const survivors = process.argv.includes('--survivors')

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The inspector's WebSocket address, once the server has opened it (at most 60 s). */
async function debuggerUrl(): Promise<string> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    try {
      const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>
      if (targets[0]) return targets[0].webSocketDebuggerUrl
    } catch {
      // Not listening yet.
    }
    await sleep(50)
  }
  throw new Error(`no inspector on 127.0.0.1:${port} within 60 s`)
}

const ws = new WebSocket(await debuggerUrl())
await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
let nextId = 0
const waiting = new Map<number, (result: unknown) => void>()
ws.on('message', (raw) => {
  const reply = JSON.parse(String(raw)) as { id?: number; result?: unknown }
  if (reply.id !== undefined) waiting.get(reply.id)?.(reply.result)
})
function call(method: string, params: object = {}): Promise<unknown> {
  const id = ++nextId
  return new Promise((resolve) => {
    waiting.set(id, resolve)
    ws.send(JSON.stringify({ id, method, params }))
  })
}

await sleep(afterS * 1000)
await call('HeapProfiler.enable')
await call('HeapProfiler.startSampling', {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: !survivors,
})
await sleep(forS * 1000)
const { profile } = (await call('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } }
ws.close()

const where = (f: CallFrame) =>
  `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^.*dist\/server\//, 'tandem:')}:${f.lineNumber + 1}`
const byFunction = new Map<string, number>()
const byStack = new Map<string, number>()
let total = 0
function walk(node: ProfileNode, stack: readonly string[]): void {
  const here = [where(node.callFrame), ...stack]
  if (node.selfSize > 0) {
    total += node.selfSize
    byFunction.set(here[0]!, (byFunction.get(here[0]!) ?? 0) + node.selfSize)
    const key = here.slice(0, 5).join(' < ')
    byStack.set(key, (byStack.get(key) ?? 0) + node.selfSize)
  }
  for (const child of node.children) walk(child, here)
}
walk(profile.head, [])

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2).padStart(7)} MB`
console.log(`${survivors ? 'survived a scavenge' : 'allocated'}: ${mb(total)} in ${forS} s (sampled)`)
console.log('\nby allocating function')
for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${mb(v)}  ${k}`)
console.log('\nby stack (innermost first)')
for (const [k, v] of [...byStack].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${mb(v)}  ${k}`)
