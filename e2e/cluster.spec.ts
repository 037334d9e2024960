/**
 * Scale-out in the browser: two server processes sharing one Postgres schema and one Redis
 * prefix of their own; Alice's browser opens the document on instance 1, Bob's on instance 2.
 * Each sees the other's text and named caret, exactly as on one server.
 *
 * Needs Postgres and Redis (the same ones as the server tests): without them the test is skipped
 * with a loud message, and fails when CI is set.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Page } from '@playwright/test'
import {
  dropSchema,
  POSTGRES_URL,
  postgresProblem,
  REDIS_URL,
  redisProblem,
  uniqueSchema,
} from '../server/test/helpers/services.js'
import { apiText, caretTo, docText, editorText, expect, expectConverged, test as base, type TandemServer } from './fixtures.js'
import { ServerProcess } from './server-process.js'

const caretLabel = (page: Page, name: string) => page.locator('.cm-ySelectionCaret .cm-ySelectionInfo', { hasText: name })
const onlineUsers = (page: Page) => page.getByTestId('online').getByTestId('online-user')

const test = base.extend<{ cluster: readonly [TandemServer, TandemServer] }>({
  cluster: async ({}, use, testInfo) => {
    for (const [service, where, problem] of [
      ['postgres', POSTGRES_URL, await postgresProblem()],
      ['redis', REDIS_URL, await redisProblem()],
    ] as const) {
      if (problem === null) continue
      const message = `${service} is not reachable at ${where} (${problem})`
      if (process.env.CI) throw new Error(`${message}: CI must run this test`)
      process.stderr.write(`\n!!! SKIPPED "${testInfo.title}": ${message}\n`)
      testInfo.skip(true, message)
    }
    const schema = uniqueSchema()
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-e2e-cluster-'))
    const shared = {
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL,
      REDIS_PREFIX: schema,
      ROOM_IDLE_MS: '500',
    }
    const instances = [1, 2].map((n) => new ServerProcess(dataDir, { ...shared, INSTANCE_ID: `node-${n}` }))
    try {
      await Promise.all(instances.map((instance) => instance.start(0)))
      await use([instances[0]!, instances[1]!])
    } finally {
      await Promise.all(instances.map((instance) => instance.stop()))
      if (testInfo.status !== testInfo.expectedStatus) {
        for (const [i, instance] of instances.entries()) {
          await testInfo.attach(`node-${i + 1}.log`, { body: instance.log(), contentType: 'text/plain' })
        }
      }
      await dropSchema(schema)
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  },
  // The fixtures' own server is the cluster's first instance: editors.open() goes there.
  server: async ({ cluster }, use) => {
    await use(cluster[0])
  },
})

test('two people on two instances see each other’s text and named carets', async ({ cluster, editors, docName }) => {
  const [one, two] = cluster
  const [pageA, pageB] = await Promise.all([editors.open({ name: 'Alice' }), editors.open({ name: 'Bob', server: two })])
  expect(new URL(pageA.url()).port).toBe(String(one.port))
  expect(new URL(pageB.url()).port).toBe(String(two.port))

  await caretTo(pageA, 'start')
  await pageA.keyboard.type('Alice on one. ')
  // Bob's "end" is only after Alice's sentence once it has crossed instances to his page.
  await expect.poll(() => docText(pageB)).toBe('Alice on one. ')
  await caretTo(pageB, 'end')
  await pageB.keyboard.type('Bob on two.')

  const text = await expectConverged(one, docName, [pageA, pageB])
  expect(text).toContain('Alice on one. ')
  expect(text).toContain('Bob on two.')
  expect(await apiText(two, docName), 'the other instance serves the same text').toBe(text)

  // Each sees the other's caret, labelled with the other's name, and nobody sees their own.
  await expect(caretLabel(pageA, 'Bob')).toBeVisible()
  await expect(caretLabel(pageB, 'Alice')).toBeVisible()
  await expect(caretLabel(pageA, 'Alice')).toHaveCount(0)
  await expect(caretLabel(pageB, 'Bob')).toHaveCount(0)
  await expect(onlineUsers(pageA)).toHaveText(['Alice (you)', 'Bob'])
  await expect(onlineUsers(pageB)).toHaveText(['Bob (you)', 'Alice'])

  // Typing at the same time, each at their own end, still converges.
  await caretTo(pageA, 'end')
  await caretTo(pageB, 'start')
  await Promise.all([pageA.keyboard.type(' More from Alice.'), pageB.keyboard.type('Bob first. ')])
  const both = await expectConverged(one, docName, [pageA, pageB])
  for (const piece of ['Alice on one. ', 'Bob on two.', ' More from Alice.', 'Bob first. ']) expect(both).toContain(piece)
  expect(await apiText(two, docName)).toBe(both)

  // Bob leaves instance 2: his caret and entry leave Alice's page on instance 1.
  await pageB.context().close()
  await expect(caretLabel(pageA, 'Bob')).toHaveCount(0)
  await expect(onlineUsers(pageA)).toHaveText(['Alice (you)'])
  expect(await editorText(pageA)).toBe(both)
})
