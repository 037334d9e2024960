/**
 * Child process for crash-compaction.test.ts: opens a SqliteStore, then appends seeded random
 * Yjs text edits one at a time and compacts every N appends, forever, until the parent kills it.
 *
 * Protocol on stdout, one line each. Each line is awaited until it is handed to the kernel (the
 * write callback), so a line survives a SIGKILL that follows it, and the loop yields to the event
 * loop when the parent reads slowly instead of queueing output in memory forever:
 *   start <count> <hash>      the document as loaded, and the count the parent says it stands for
 *   will <count> <hash>       about to append the edit that makes the text hash to <hash>
 *   ack <count>               that append has committed
 *   compact <count> / compacted <count>
 *
 * Usage: node --import tsx crash-writer.ts <dir> <doc> <seed> <startCount> <compactEvery>
 */
import * as Y from 'yjs'
import { SqliteStore } from '../../src/store/sqlite.js'
import { textHash } from './hash.js'
import { Rng } from './random.js'

async function main(): Promise<void> {
  const [dir, name, seedText, startText, everyText] = process.argv.slice(2)
  if (!dir || !name || !seedText || !startText || !everyText) throw new Error('usage: crash-writer <dir> <doc> <seed> <start> <every>')
  const rng = new Rng(Number(seedText))
  const compactEvery = Number(everyText)
  let count = Number(startText)
  const say = (line: string) =>
    new Promise<void>((resolve, reject) => process.stdout.write(line + '\n', (err) => (err ? reject(err) : resolve())))

  const store = SqliteStore.open(dir, { synchronous: 'normal' })
  const doc = new Y.Doc()
  const stored = await store.load(name)
  if (stored) Y.transact(doc, () => stored.updates.forEach((update) => Y.applyUpdate(doc, update)))
  const text = doc.getText('codemirror')
  const last: { update: Uint8Array | null } = { update: null }
  doc.on('update', (update: Uint8Array) => (last.update = update))
  await say(`start ${count} ${textHash(text.toString())}`)

  let seq = stored?.seq ?? 0
  for (let appended = 0; count < 1_000_000; appended++) {
    // Keep the text short so hashing and loading stay cheap however long the child runs.
    if (text.length > 400 || (text.length > 0 && rng.float() < 0.3)) {
      const at = rng.int(text.length)
      text.delete(at, Math.min(1 + rng.int(text.length > 400 ? 80 : 5), text.length - at))
    } else {
      text.insert(rng.int(text.length + 1), rng.word(12))
    }
    const update = last.update
    if (!update) continue // an edit that changed nothing
    last.update = null
    count++
    await say(`will ${count} ${textHash(text.toString())}`)
    seq = await store.append(name, [update])
    await say(`ack ${count}`)
    if ((appended + 1) % compactEvery === 0) {
      await say(`compact ${count}`)
      await store.compact(name, Y.encodeStateAsUpdate(doc), seq)
      await say(`compacted ${count}`)
    }
  }
  await store.close()
}

main().catch((err) => {
  process.stderr.write(`crash-writer: ${err?.stack ?? err}\n`)
  process.exit(1)
})
