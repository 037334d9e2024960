/** Bounded waiting: every wait in the harness has a deadline. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `condition` until it holds (true) or `timeoutMs` passes (false). */
export async function waitFor(condition: () => boolean, timeoutMs: number, pollMs = 5): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (condition()) return true
    if (performance.now() >= deadline) return false
    await sleep(pollMs)
  }
}

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: timed out after ${(ms / 1000).toFixed(0)} s`)
    this.name = 'TimeoutError'
  }
}

/** The promise, or a TimeoutError after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
