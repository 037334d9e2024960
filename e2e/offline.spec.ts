/**
 * Working without the server: one page loses its connection while the other keeps editing, then
 * both converge without duplicating anything; and offline edits survive a reload.
 *
 * How the network is cut: in this Chromium, `context.setOffline(true)` does not close a WebSocket
 * that is already open. It holds its frames in both directions (delivering them when the context
 * goes back online) and makes new connections fail. So the network-level test pairs it with a
 * short server heartbeat: the server misses a pong and drops the socket, the others see the person
 * leave, and the page learns of the close when its network returns, then reconnects and resyncs.
 * A second test closes the socket from the page itself (`provider.disconnect()`/`connect()`).
 */
import type { Page } from '@playwright/test'
import {
  apiText,
  caretTo,
  editorText,
  expect,
  expectConverged,
  expectSavedText,
  indexedDbSettled,
  occurrences,
  serveEditorFromDist,
  status,
  test,
} from './fixtures.js'

const RECONNECT_TIMEOUT = 30_000

const onlineNames = (page: Page) => page.getByTestId('online').getByTestId('online-user')

test.describe('network loss', () => {
  // A lost peer is noticed within two heartbeats.
  test.use({ serverEnv: { HEARTBEAT_MS: '1000' } })

  test('a page that loses its network catches up without duplicates', async ({ editors, server, docName }) => {
    const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
    await caretTo(pageA, 'start')
    await pageA.keyboard.type('shared')
    await expectConverged(server, docName, [pageA, pageB])

    await pageA.context().setOffline(true)
    // The server dropped A's socket (it stopped answering pings): B sees A leave.
    await expect(onlineNames(pageB)).toHaveText(['Bob (you)'])

    await caretTo(pageA, 'start')
    await caretTo(pageB, 'end')
    await Promise.all([pageA.keyboard.type('A-offline '), pageB.keyboard.type(' B-online')])

    await expectSavedText(pageB, 'shared B-online')
    // A's edits have not reached the server, and A must not claim otherwise.
    await expect(status(pageA)).toHaveAttribute('data-status', 'unsaved')
    expect(await editorText(pageA)).toBe('A-offline shared')
    expect(await editorText(pageB)).toBe('shared B-online')
    expect(await apiText(server, docName)).toBe('shared B-online')

    await pageA.context().setOffline(false)

    const text = await expectConverged(server, docName, [pageA, pageB], RECONNECT_TIMEOUT)
    expect(text).toBe('A-offline shared B-online')
    for (const piece of ['A-offline ', 'shared', ' B-online']) expect(occurrences(text, piece), piece).toBe(1)
    await expect(onlineNames(pageB)).toHaveText(['Bob (you)', 'Alice'])
    await expect(onlineNames(pageA)).toHaveText(['Alice (you)', 'Bob'])
  })
})

test('a page whose socket closes and reopens catches up without duplicates', async ({ editors, server, docName }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageA, 'start')
  await pageA.keyboard.type('shared')
  await expectConverged(server, docName, [pageA, pageB])

  await pageA.evaluate(() => window.tandem!.provider.disconnect())
  await expect(status(pageA)).toHaveAttribute('data-status', 'offline')
  await expect(status(pageA)).toContainText('Offline: saved on this device')
  await expect(onlineNames(pageB)).toHaveText(['Bob (you)'])

  await caretTo(pageA, 'end')
  await caretTo(pageB, 'end')
  await Promise.all([pageA.keyboard.type(' A-offline'), pageB.keyboard.type(' B-online')])
  await expect(status(pageB)).toHaveAttribute('data-status', 'saved')
  await expect(status(pageA)).toHaveAttribute('data-status', 'offline')

  await pageA.evaluate(() => window.tandem!.provider.connect())

  const text = await expectConverged(server, docName, [pageA, pageB], RECONNECT_TIMEOUT)
  // Both appended at the same place while apart: either order is right, duplicates are not.
  expect(['shared A-offline B-online', 'shared B-online A-offline']).toContain(text)
  for (const piece of ['shared', ' A-offline', ' B-online']) expect(occurrences(text, piece), piece).toBe(1)
})

test('people who edited apart while the room unloaded rejoin at once and converge', async ({ editors, server, docName }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageA, 'start')
  await pageA.keyboard.type('shared')
  await expectConverged(server, docName, [pageA, pageB])

  await Promise.all([pageA, pageB].map((page) => page.evaluate(() => window.tandem!.provider.disconnect())))
  // With nobody left, the server unloads the room (ROOM_IDLE_MS is short in these tests).
  await expect
    .poll(async () => (await fetch(`${server.url}/healthz`)).json(), { message: 'the room is unloaded' })
    .toMatchObject({ rooms: 0, connections: 0 })

  await caretTo(pageA, 'start')
  await caretTo(pageB, 'end')
  await Promise.all([pageA.keyboard.type('A-apart '), pageB.keyboard.type(' B-apart')])
  for (const page of [pageA, pageB]) await expect(status(page)).toHaveAttribute('data-status', 'offline')

  // Both joins reach an unloaded room together: they must share one load of it.
  await Promise.all([pageA, pageB].map((page) => page.evaluate(() => window.tandem!.provider.connect())))
  expect(await expectConverged(server, docName, [pageA, pageB], RECONNECT_TIMEOUT)).toBe('A-apart shared B-apart')
})

test('an offline edit survives a reload and syncs when the server returns', async ({ editors, server, docName }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageA, 'start')
  await pageA.keyboard.type('Online text.')
  await expectConverged(server, docName, [pageA, pageB])

  await server.kill('SIGKILL')
  await expect(status(pageA)).toHaveAttribute('data-status', 'offline')
  await caretTo(pageA, 'end')
  await pageA.keyboard.type(' Offline text.')
  await expect(status(pageA)).toHaveAttribute('data-status', 'offline')
  await expect.poll(() => editorText(pageA)).toBe('Online text. Offline text.')
  await indexedDbSettled(pageA)

  // The server process is down, so the page itself comes from a copy of the build (as from a CDN).
  await serveEditorFromDist(pageA.context(), server)
  await pageA.reload()
  await expect(status(pageA)).toHaveAttribute('data-status', 'offline')
  await expect(status(pageA)).toContainText('Offline: saved on this device')
  await expect.poll(() => editorText(pageA)).toBe('Online text. Offline text.')
  expect(await editorText(pageB)).toBe('Online text.')

  await server.restart()
  await pageA.context().unrouteAll()
  const text = await expectConverged(server, docName, [pageA, pageB], RECONNECT_TIMEOUT)
  expect(text).toBe('Online text. Offline text.')
})
