/**
 * The server going away (crash or orderly restart) and coming back on the same address: pages
 * notice, keep working offline, reconnect by themselves, and nothing typed is lost.
 */
import type { Page } from '@playwright/test'
import { apiText, caretTo, editorText, expect, expectConverged, status, test } from './fixtures.js'

const onlineUsers = (page: Page) => page.getByTestId('online').getByTestId('online-user')

// y-websocket backs off up to a few seconds between reconnect attempts.
const RECONNECT_TIMEOUT = 30_000

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`pages reconnect by themselves after a ${signal} and restart`, async ({ editors, server, docName }) => {
    const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
    await caretTo(pageA, 'start')
    await pageA.keyboard.type('Before the restart. ')
    await expectConverged(server, docName, [pageA, pageB])

    const exit = await server.kill(signal)
    if (signal === 'SIGTERM') expect(exit.code, 'SIGTERM exits cleanly').toBe(0)

    for (const page of [pageA, pageB]) {
      await expect(status(page)).toHaveAttribute('data-connection', 'reconnecting')
      await expect(status(page)).toHaveAttribute('data-status', 'offline')
      await expect(status(page)).toContainText('Reconnecting…')
      await expect(status(page)).toContainText('Offline: saved on this device')
    }

    // Typed while the server is down: kept by the page, sent when it is back.
    await caretTo(pageB, 'end')
    await pageB.keyboard.type('Typed while down.')
    await expect(status(pageB)).toHaveAttribute('data-status', 'offline')
    await expect.poll(() => editorText(pageB)).toBe('Before the restart. Typed while down.')
    expect(await editorText(pageA)).toBe('Before the restart. ')

    await server.restart()
    for (const page of [pageA, pageB]) {
      await expect(status(page)).toHaveAttribute('data-connection', 'connected', { timeout: RECONNECT_TIMEOUT })
      await expect(status(page)).toHaveAttribute('data-status', 'saved', { timeout: RECONNECT_TIMEOUT })
    }
    expect(await expectConverged(server, docName, [pageA, pageB])).toBe('Before the restart. Typed while down.')
    // Presence comes back too: the restarted server knew nobody until they rejoined.
    await expect(onlineUsers(pageA)).toHaveText(['Alice (you)', 'Bob'])
    await expect(onlineUsers(pageB)).toHaveText(['Bob (you)', 'Alice'])

    // After the reconnect, edits flow both ways again.
    await caretTo(pageA, 'end')
    await pageA.keyboard.type(' A after.')
    await expect.poll(() => editorText(pageB)).toBe('Before the restart. Typed while down. A after.')
    await caretTo(pageB, 'start')
    await pageB.keyboard.type('B after. ')
    await expect.poll(() => editorText(pageA)).toBe('B after. Before the restart. Typed while down. A after.')
    expect(await expectConverged(server, docName, [pageA, pageB])).toBe('B after. Before the restart. Typed while down. A after.')
  })
}

test('what was relayed before a SIGKILL is in the store after the restart', async ({ editors, server, docName }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageA, 'start')
  await pageA.keyboard.type('Relayed, so stored.')
  // B has it, so the server relayed it, so (by the server's rule) the store had it first.
  await expect.poll(() => editorText(pageB)).toBe('Relayed, so stored.')

  // No page may re-send its copy after the restart: only the store can answer.
  await Promise.all([pageA.context().setOffline(true), pageB.context().setOffline(true)])
  await server.kill('SIGKILL')
  await server.restart()
  expect(await apiText(server, docName)).toBe('Relayed, so stored.')

  await Promise.all([pageA.context().setOffline(false), pageB.context().setOffline(false)])
  for (const page of [pageA, pageB]) {
    await expect(status(page)).toHaveAttribute('data-connection', 'connected', { timeout: RECONNECT_TIMEOUT })
  }
  expect(await expectConverged(server, docName, [pageA, pageB])).toBe('Relayed, so stored.')
})

test('typing straight through a SIGTERM and restart loses nothing', async ({ editors, server, docName, rng }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  const typed = rng.string(120, 'abcdefghijklmnopqrstuvwxyz')
  await caretTo(pageA, 'end')
  // A steady typist (the delay is typing speed, not a wait): the restart lands mid-sentence.
  const typing = pageA.keyboard.type(typed, { delay: 15 })
  await expect.poll(async () => (await editorText(pageB)).length).toBeGreaterThan(10)
  await server.kill('SIGTERM')
  await server.restart()
  await typing

  const text = await expectConverged(server, docName, [pageA, pageB], RECONNECT_TIMEOUT)
  expect(text).toBe(typed)
})
