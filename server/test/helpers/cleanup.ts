/**
 * Teardown in reverse order of setup (clients before the server they talk to, the server before
 * its store, the store before its folder), run even when the test fails.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'

export class Cleanup {
  private readonly steps: Array<() => unknown> = []

  /** With a test context, runs at its end; without one (a script), the owner calls run(). */
  constructor(t?: TestContext) {
    t?.after(() => this.run())
  }

  /** Registers a teardown step; steps run last-in, first-out. */
  add(step: () => unknown): void {
    this.steps.push(step)
  }

  /** A fresh temporary folder, removed at teardown. */
  tempDir(prefix = 'tandem-test-'): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
    this.add(() => fs.rmSync(dir, { recursive: true, force: true }))
    return dir
  }

  async run(): Promise<void> {
    const errors: unknown[] = []
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step()
      } catch (err) {
        errors.push(err)
      }
    }
    if (errors.length > 0) throw errors[0]
  }
}
