/**
 * A small levelled logger. Passed in to whatever logs, so tests can capture or silence it and
 * nothing writes to the console behind the caller's back. One line per event, `key=value` context.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export interface Logger {
  debug(message: string, context?: Record<string, unknown>): void
  info(message: string, context?: Record<string, unknown>): void
  warn(message: string, context?: Record<string, unknown>): void
  error(message: string, context?: Record<string, unknown>): void
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message)
  if (typeof value === 'string') return /^[\w.\-/:@]+$/.test(value) ? value : JSON.stringify(value)
  return JSON.stringify(value) ?? String(value)
}

/**
 * `Date.prototype.toISOString`'s text, from the UTC fields. In Node 20's V8, toISOString asks ICU
 * for the local time zone and its display name on its first call, though the ISO form never
 * shows them: that loads ICU's time-zone code and data, about 0.9 MB of resident memory for the
 * life of the process (seen in /proc/<pid>/pagemap: 640 KB of icudt78_dat alone), for the first
 * log line at start-up. The UTC getters need no time zone.
 */
export function isoTime(ms: number): string {
  const d = new Date(ms)
  const two = (n: number) => (n < 10 ? '0' : '') + n
  const ms3 = d.getUTCMilliseconds()
  return (
    `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}T` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${ms3 < 10 ? '00' : ms3 < 100 ? '0' : ''}${ms3}Z`
  )
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line + '\n')): Logger {
  const emit = (at: Exclude<LogLevel, 'silent'>, message: string, context?: Record<string, unknown>) => {
    if (rank[at] < rank[level]) return
    let line = `${isoTime(Date.now())} ${at.toUpperCase()} ${message}`
    if (context) for (const [k, v] of Object.entries(context)) if (v !== undefined) line += ` ${k}=${formatValue(v)}`
    write(line)
  }
  return {
    debug: (m, c) => emit('debug', m, c),
    info: (m, c) => emit('info', m, c),
    warn: (m, c) => emit('warn', m, c),
    error: (m, c) => emit('error', m, c),
  }
}

export const silentLogger: Logger = createLogger('silent')
