/**
 * CommitTurn (commit-turn.ts): the rooms that ask in one event-loop turn commit together at its
 * end, in one store group; on a quiet server, with `eager`, the room a socket read asked for
 * commits as soon as that read has been handled.
 */
import assert from 'node:assert/strict'
import { CommitTurn } from '../src/commit-turn.js'
import { MemoryStore } from '../src/store/memory.js'
import type { Store } from '../src/store/store.js'
import { test } from './helpers/test.js'

/** A room that records when it was told to commit. */
function committer(log: string[], name: string) {
  return { commitNow: () => log.push(name) }
}

/** A store whose group() is counted. */
function groupingStore(groups: number[]): Store {
  const store = new MemoryStore()
  return Object.assign(store, {
    group(appends: () => void) {
      groups.push(1)
      appends()
    },
  })
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

test('1. rooms that ask in one turn commit at its end, in one group', async () => {
  const log: string[] = []
  const groups: number[] = []
  const turn = new CommitTurn(groupingStore(groups))
  turn.schedule(committer(log, 'a'))
  turn.schedule(committer(log, 'b'))
  turn.afterRead()
  assert.deepEqual(log, [], 'not eager: nothing commits before the end of the turn')
  await nextTurn()
  assert.deepEqual(log, ['a', 'b'])
  assert.equal(groups.length, 1)
})

test('2. eager, on a quiet server: the read\'s one room commits at once, and only once', async () => {
  const log: string[] = []
  const turn = new CommitTurn(new MemoryStore(), { eager: true, quietMs: 60_000 })
  turn.schedule(committer(log, 'a'))
  turn.afterRead()
  assert.deepEqual(log, ['a'], 'committed when the read was handled')
  await nextTurn()
  assert.deepEqual(log, ['a'], 'the end of the turn did not commit it again')
})

test('3. eager: a server that has just committed, or a read that left two rooms waiting, waits for the turn', async () => {
  const log: string[] = []
  const groups: number[] = []
  const turn = new CommitTurn(groupingStore(groups), { eager: true, quietMs: 60_000 })
  turn.schedule(committer(log, 'first'))
  turn.afterRead()
  // Within quietMs of that commit: the next read's room waits for whoever else the turn brings.
  turn.schedule(committer(log, 'a'))
  turn.afterRead()
  turn.schedule(committer(log, 'b'))
  turn.afterRead()
  assert.deepEqual(log, ['first'])
  await nextTurn()
  assert.deepEqual(log, ['first', 'a', 'b'])
  assert.equal(groups.length, 1, 'a and b committed together')

  // Quiet again (quietMs 0: any time since the last commit is enough), but two rooms waiting.
  const two = new CommitTurn(groupingStore(groups), { eager: true, quietMs: 0 })
  two.schedule(committer(log, 'c'))
  two.schedule(committer(log, 'd'))
  two.afterRead()
  assert.deepEqual(log.slice(3), [])
  await nextTurn()
  assert.deepEqual(log.slice(3), ['c', 'd'])
  assert.equal(groups.length, 2)
})
