/**
 * The logger: its timestamp is toISOString's text without asking for the time zone, and it
 * writes only what its level lets through, with `key=value` context.
 */
import assert from 'node:assert/strict'
import { createLogger, isoTime } from '../src/log.js'
import { seededRng } from './helpers/random.js'
import { test } from './helpers/test.js'

test('isoTime is the text toISOString gives, for any moment from 1970 to 2200', (t) => {
  const rng = seededRng(t)
  const end = Date.UTC(2200, 0, 1)
  const moments = [0, 999, 1000, Date.UTC(2024, 1, 29, 23, 59, 59, 9), Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.now()]
  for (let i = 0; i < 2000; i++) moments.push(Math.floor(rng.float() * end))
  for (const ms of moments) assert.equal(isoTime(ms), new Date(ms).toISOString(), `at ${ms}`)
})

test('a logger writes what its level lets through, with its context', () => {
  const lines: string[] = []
  const log = createLogger('info', (line) => lines.push(line))
  log.debug('not shown')
  log.info('store ready', { kind: 'sqlite', dir: '/tmp/a b', skipped: undefined })
  log.error('failed', { err: new Error('boom') })
  assert.equal(lines.length, 2)
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO store ready kind=sqlite dir="\/tmp\/a b"$/)
  assert.match(lines[1]!, / ERROR failed err="boom"$/)
})
