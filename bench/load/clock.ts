/**
 * Milliseconds on CLOCK_MONOTONIC (libuv's hrtime), the same in every process of this machine:
 * a keystroke sent in one load process is timed at readers in another. performance.now() counts
 * from each process's own start and cannot be compared across them.
 */
export function clock(): number {
  return Number(process.hrtime.bigint()) / 1e6
}
