/**
 * node:test's `test` with a deadline: a bug that leaves a promise pending fails its test (and runs
 * its teardown) instead of hanging the whole suite. Passing tests finish long before it.
 */
import { test as nodeTest, type TestContext } from 'node:test'

export type { TestContext }

export function test(name: string, fn: (t: TestContext) => void | Promise<void>, options: { timeoutMs?: number } = {}): void {
  void nodeTest(name, { timeout: options.timeoutMs ?? 60_000 }, fn)
}
