/**
 * Auth as the processes see it: `npm run token` prints a token and its link; main.ts warns once
 * when auth is off, and with AUTH_SECRET and AUTH_PUBLIC_KEY (a PEM file) requires tokens.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { jwtVerify } from 'jose'
import { Cleanup } from './helpers/cleanup.js'
import { upgradeStatus } from './helpers/clients.js'
import { childEnv, runToExit, spawnServer, type ScriptRun } from './helpers/server.js'
import { keyPair, nowSeconds, SECRET, sign, token, unsignedToken } from './helpers/tokens.js'
import { test } from './helpers/test.js'

/** Runs scripts/token.ts as `npm run token -- ...` does, with the given environment. */
function tokenScript(cleanup: Cleanup, args: string[], env: Record<string, string>): Promise<ScriptRun> {
  return runToExit(cleanup, 'scripts/token.ts', args, childEnv({ AUTH_SECRET: '', PORT: '', ...env }))
}

test('1. npm run token -- --doc NAME --role viewer --ttl 24h prints a verifiable token and its link', async (t) => {
  const cleanup = new Cleanup(t)
  const run = await tokenScript(cleanup, ['--doc', 'road map', '--role', 'viewer', '--ttl', '24h', '--name', 'Ada'], { AUTH_SECRET: SECRET })
  assert.equal(run.code, 0, run.stderr)
  const match = /^token: (\S+)\nlink: {2}(\S+)\n$/.exec(run.stdout)
  assert.ok(match, `unexpected output:\n${run.stdout}`)
  const [, printed, link] = match
  const { payload, protectedHeader } = await jwtVerify(printed!, new TextEncoder().encode(SECRET), { algorithms: ['HS256'] })
  assert.equal(protectedHeader.alg, 'HS256')
  assert.equal(payload.doc, 'road map')
  assert.equal(payload.role, 'viewer')
  assert.equal(payload.name, 'Ada')
  assert.equal(payload.exp! - payload.iat!, 24 * 3600)
  assert.ok(Math.abs(payload.exp! - (nowSeconds() + 24 * 3600)) < 30, `exp ${payload.exp}`)
  assert.equal(link, `http://localhost:1234/d/road%20map?token=${printed}`)

  // Defaults: an editor for a day; a pattern prints the link form to fill in.
  const pattern = await tokenScript(cleanup, ['--doc', 'team/*', '--url', 'https://docs.example.com/'], { AUTH_SECRET: SECRET })
  assert.equal(pattern.code, 0, pattern.stderr)
  const patternToken = /^token: (\S+)$/m.exec(pattern.stdout)![1]!
  const claims = (await jwtVerify(patternToken, new TextEncoder().encode(SECRET))).payload
  assert.deepEqual([claims.doc, claims.role, claims.exp! - claims.iat!], ['team/*', 'editor', 86400])
  assert.match(pattern.stdout, /^link: {2}https:\/\/docs\.example\.com\/d\/<document>\?token=/m)

  // Refusals name what is wrong and print no token.
  for (const [args, env, says] of [
    [['--doc', 'x'], {}, /AUTH_SECRET/],
    [['--doc', 'x'], { AUTH_SECRET: 'short' }, /AUTH_SECRET/],
    [['--role', 'viewer'], { AUTH_SECRET: SECRET }, /--doc/],
    [['--doc', 'x', '--role', 'admin'], { AUTH_SECRET: SECRET }, /--role/],
    [['--doc', 'x', '--ttl', 'forever'], { AUTH_SECRET: SECRET }, /--ttl/],
  ] as const) {
    const refused = await tokenScript(cleanup, [...args], env)
    assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.stderr}`)
    assert.match(refused.stderr, says)
    assert.doesNotMatch(refused.stdout, /token:/)
  }
})

test('2. main.ts with auth off logs the warning exactly once; with AUTH_SECRET and an AUTH_PUBLIC_KEY file, tokens are required', async (t) => {
  const cleanup = new Cleanup(t)
  const open = await spawnServer(cleanup, { dataDir: cleanup.tempDir(), env: { AUTH_SECRET: '', AUTH_PUBLIC_KEY: '' } })
  assert.equal(await upgradeStatus(`${open.wsUrl}/doc`), 101)
  assert.equal(open.stderr().split('auth is off').length - 1, 1, `stderr:\n${open.stderr()}`)
  assert.match(open.stderr(), /\bWARN auth is off\b/)

  const dir = cleanup.tempDir()
  const rsa = keyPair('rsa')
  const keyFile = path.join(dir, 'identity.pem')
  fs.writeFileSync(keyFile, rsa.publicPem)
  const guarded = await spawnServer(cleanup, { dataDir: path.join(dir, 'data'), env: { AUTH_SECRET: SECRET, AUTH_PUBLIC_KEY: keyFile } })
  assert.doesNotMatch(guarded.stderr(), /auth is off/)
  const url = (value: string) => `${guarded.wsUrl}/doc?token=${value}`
  assert.equal(await upgradeStatus(`${guarded.wsUrl}/doc`), 401)
  assert.equal(await upgradeStatus(url(await token({ doc: 'doc', role: 'editor' }))), 101)
  assert.equal(await upgradeStatus(url(await sign({ doc: 'doc', role: 'editor' }, rsa.privateKey, 'RS256'))), 101)
  assert.equal(await upgradeStatus(url(await sign({ doc: 'doc', role: 'editor' }, rsa.publicPem))), 401)
  assert.equal(await upgradeStatus(url(unsignedToken({ doc: 'doc', role: 'editor' }))), 401)
  assert.equal(await upgradeStatus(url(await token({ doc: 'other', role: 'editor' }))), 403)
  // Nothing it logged holds a token.
  assert.doesNotMatch(guarded.stderr() + guarded.stdout(), /eyJ/)
})
