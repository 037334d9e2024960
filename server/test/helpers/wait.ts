/**
 * Waiting without sleeping: every wait is for a condition, with a deadline and a message that says
 * what did not happen. A test never pauses for a fixed time.
 */
import type { EventEmitter } from 'node:events'

export interface WaitOptions {
  /** Deadline; generous, because a passing test never waits for it. */
  readonly timeoutMs?: number
  /** What we were waiting for, shown when the deadline passes. May describe the current state. */
  readonly message: string | (() => string)
}

const POLL_MS = 5

/** Resolves with the first truthy value of `condition`, polled every few ms; rejects at the deadline. */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitOptions): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await condition()
    if (value) return value as NonNullable<T>
    if (performance.now() >= deadline) {
      const message = typeof options.message === 'function' ? options.message() : options.message
      throw new Error(`waitFor timed out after ${timeoutMs} ms: ${message}`)
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

/** Races a promise against a deadline. */
export async function within<T>(promise: Promise<T>, options: WaitOptions): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const message = typeof options.message === 'function' ? options.message() : options.message
      reject(new Error(`timed out after ${timeoutMs} ms: ${message}`))
    }, timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The next `event` from `emitter` (whose arguments pass `filter`), with a deadline. */
export function nextEvent<A extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  options: WaitOptions & { readonly filter?: (...args: A) => boolean },
): Promise<A> {
  let listener: ((...args: A) => void) | undefined
  const seen = new Promise<A>((resolve) => {
    listener = (...args: A) => {
      if (options.filter && !options.filter(...args)) return
      emitter.off(event, listener as (...args: unknown[]) => void)
      resolve(args)
    }
    emitter.on(event, listener as (...args: unknown[]) => void)
  })
  return within(seen, options).finally(() => emitter.off(event, listener as (...args: unknown[]) => void))
}

export interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
  reject(err: unknown): void
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (err: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * Lets the event loop run `turns` times (setImmediate callbacks, I/O, resolved promises). Not a
 * sleep: it is how a test shows that something did NOT happen while everything that was ready ran.
 */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}
