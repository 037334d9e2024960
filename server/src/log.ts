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

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line + '\n')): Logger {
  const emit = (at: Exclude<LogLevel, 'silent'>, message: string, context?: Record<string, unknown>) => {
    if (rank[at] < rank[level]) return
    let line = `${new Date().toISOString()} ${at.toUpperCase()} ${message}`
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
