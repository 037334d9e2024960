/**
 * The error catalogue: stable codes mapped to close codes, close reasons that fit a close frame,
 * and docs/protocol.md listing every entry.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { asTandemError, closeReason, CloseCode, errorCatalogue, TandemError } from '../src/errors.js'
import { REPO_ROOT } from './helpers/server.js'
import { test } from './helpers/test.js'

test('1. each error code maps to its documented close code', () => {
  assert.deepEqual(Object.fromEntries(errorCatalogue.map((e) => [e.code, e.closeCode])), {
    TEXT_FRAME: 1003,
    MESSAGE_TOO_BIG: 1009,
    TOO_MANY_FRAGMENTS: 1008,
    MALFORMED_MESSAGE: 4400,
    INVALID_UPDATE: 4422,
    LOAD_FAILED: 1011,
    INTERNAL: 1011,
    SHUTTING_DOWN: 1012,
    SLOW_READER: 1013,
    TOKEN_EXPIRED: 4401,
    HANDSHAKE_TIMEOUT: 4408,
    DOCUMENT_TOO_LARGE: 4413,
    AWARENESS_TOO_LARGE: 4413,
    TOO_MANY_PENDING: 4422,
    RATE_LIMITED: 4429,
  })
  const err = new TandemError('INVALID_UPDATE', 'nope')
  assert.equal(err.closeCode, CloseCode.invalidUpdate)
  assert.equal(err.name, 'TandemError')
  assert.ok(err instanceof Error)
})

test('2. close reasons fit in 123 bytes without splitting a character', () => {
  assert.equal(closeReason('short'), 'short')
  const exact = 'x'.repeat(123)
  assert.equal(closeReason(exact), exact)
  for (const long of ['y'.repeat(500), 'é'.repeat(100), '😀'.repeat(40), 'a' + '€'.repeat(60)]) {
    const reason = closeReason(long)
    assert.ok(Buffer.byteLength(reason) <= 123, `${Buffer.byteLength(reason)} bytes`)
    assert.ok(reason.endsWith('...'))
    assert.ok(!reason.includes('\uFFFD'), 'a character was cut in half')
    assert.ok(long.startsWith(reason.slice(0, -3)))
  }
})

test('3. asTandemError keeps ours and wraps anything else as INTERNAL', () => {
  const ours = new TandemError('MALFORMED_MESSAGE', 'bad')
  assert.equal(asTandemError(ours), ours)
  const cause = new RangeError('boom')
  const wrapped = asTandemError(cause)
  assert.equal(wrapped.code, 'INTERNAL')
  assert.equal(wrapped.closeCode, 1011)
  assert.equal(wrapped.cause, cause)
  assert.match(wrapped.message, /boom/)
  assert.equal(asTandemError('text').code, 'INTERNAL')
})

test('4. docs/protocol.md lists every error code with its close code', () => {
  const docPath = path.join(REPO_ROOT, 'docs/protocol.md')
  assert.ok(fs.existsSync(docPath), `${docPath} does not exist`)
  const rows = fs
    .readFileSync(docPath, 'utf8')
    .split('\n')
    .filter((line) => /^\s*\|/.test(line))
    .map((row) => row.split('|').map((cell) => cell.trim().replace(/^`(.*)`$/, '$1')))
  for (const { code, closeCode } of errorCatalogue) {
    const row = rows.find((cells) => cells[2] === code)
    assert.ok(row, `docs/protocol.md's close code table has no row for ${code}`)
    assert.equal(row[1], String(closeCode), `docs/protocol.md's close code for ${code}`)
  }
})
