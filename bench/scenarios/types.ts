import type { ServerDef } from '../servers/index.js'
import type { Params } from '../params.js'
import type { TraceCache } from '../load/trace.js'

export interface RunContext {
  readonly def: ServerDef
  readonly params: Params
  /** Parent of this run's data dir; removed at the end of the harness. */
  readonly tmpRoot: string
  readonly trace: TraceCache
  /** Filled as the run goes, so a run that fails half-way keeps what it measured. */
  readonly metrics: Record<string, number>
  /** Things worth reading next to the numbers (a lost document, a forced kill). */
  readonly notes: string[]
  log(message: string): void
  /** Registers what to kill if the run overruns its hard limit. */
  onAbort(kill: () => void): void
}

export interface Row {
  readonly key: string
  readonly label: string
  /**
   * Formats a median for the table. A rate is '/s', not 'count': a count is rounded to a whole
   * number and compared by difference, which would show 0.4 frames a second as 0.
   */
  readonly unit: 'ms' | 's' | 'us' | 'MB' | 'KB' | '%' | 'count' | '/s'
  readonly better: 'lower' | 'higher'
  /** Measured by some servers only (the cluster's): the table leaves it out when none has it. */
  readonly optional?: boolean
}

export interface Scenario {
  readonly name: string
  readonly title: string
  /** What is measured, in a sentence or two, for the report. */
  describe(params: Params): string
  readonly rows: (params: Params) => Row[]
  /**
   * Whether it runs against the cluster entries (Tandem on Postgres + Redis, one instance or
   * several). Those that restart the server or read one process's memory do not.
   */
  readonly clusters: boolean
  /**
   * Runs only when --only names it, never in the default suite, which must stay under 10
   * minutes: presence is mostly a timed window of idle time, some 45 s a server.
   */
  readonly optIn?: boolean
  /** Hard limit for one run of one server. */
  timeoutMs(params: Params): number
  run(ctx: RunContext): Promise<void>
}
