/**
 * Who is here: remote carets labelled with their owner's name (readable without hovering), the
 * online list, renames, and presence ending when a person leaves.
 */
import type { Page } from '@playwright/test'
import * as decoding from 'lib0/decoding'
import { caretTo, docText, expect, rename, test } from './fixtures.js'

/** The client ids whose states an awareness message carries: type • update (count • count × (client • clock • JSON)). */
function statesIn(message: Uint8Array): number[] {
  const outer = decoding.createDecoder(message)
  decoding.readVarUint(outer)
  const update = decoding.createDecoder(decoding.readVarUint8Array(outer))
  const ids: number[] = []
  for (let n = decoding.readVarUint(update); n > 0; n--) {
    ids.push(decoding.readVarUint(update))
    decoding.readVarUint(update)
    decoding.readVarString(update)
  }
  return ids
}

/** The name label of a remote caret with this name, on `page`. */
const caretLabel = (page: Page, name: string) => page.locator('.cm-ySelectionCaret .cm-ySelectionInfo', { hasText: name })

const onlineUsers = (page: Page) => page.getByTestId('online').getByTestId('online-user')

test("each person sees the other's named caret and both in the online list", async ({ editors }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageA, 'start')
  await pageA.keyboard.type('Hello from Alice. ')
  await caretTo(pageB, 'end')
  await pageB.keyboard.type('Bob was here.')

  // The labels are visible at rest, not only on hover: toBeVisible does not look at opacity.
  const bobOnA = caretLabel(pageA, 'Bob')
  await expect(bobOnA).toBeVisible()
  await expect(bobOnA).toHaveCSS('opacity', '1')
  const aliceOnB = caretLabel(pageB, 'Alice')
  await expect(aliceOnB).toBeVisible()
  await expect(aliceOnB).toHaveCSS('opacity', '1')
  // Nobody sees a caret of their own.
  await expect(caretLabel(pageA, 'Alice')).toHaveCount(0)
  await expect(caretLabel(pageB, 'Bob')).toHaveCount(0)

  // Each list holds both people, yourself first and marked "(you)".
  await expect(onlineUsers(pageA)).toHaveCount(2)
  await expect(onlineUsers(pageA).nth(0)).toHaveText('Alice (you)')
  await expect(onlineUsers(pageA).nth(1)).toHaveText('Bob')
  await expect(onlineUsers(pageB)).toHaveCount(2)
  await expect(onlineUsers(pageB).nth(0)).toHaveText('Bob (you)')
  await expect(onlineUsers(pageB).nth(1)).toHaveText('Alice')
})

test("a rename shows on the other person's caret and list", async ({ editors }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageB, 'start')
  await pageB.keyboard.type('Bob types first.')
  await expect(caretLabel(pageA, 'Bob')).toBeVisible()

  await rename(pageB, 'Robert')
  // The caret stays where it was (B does not touch the editor again): only its label changes.
  await expect(pageA.locator('.cm-ySelectionInfo')).toHaveText(['Robert'])
  await expect(caretLabel(pageA, 'Robert')).toBeVisible()
  await expect(onlineUsers(pageA)).toHaveText(['Alice (you)', 'Robert'])
  await expect(onlineUsers(pageB)).toHaveText(['Robert (you)', 'Alice'])

  // The name is remembered: B's next visit (same browser profile) starts as Robert.
  await pageB.reload()
  await expect(pageB.getByTestId('user-name')).toHaveValue('Robert')
  await expect(onlineUsers(pageA)).toHaveText(['Alice (you)', 'Robert'])
})

test("a person leaving takes their caret and list entry with them", async ({ editors }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageB, 'end')
  await pageB.keyboard.type('Bob, about to leave.')
  await expect(caretLabel(pageA, 'Bob')).toBeVisible()
  await expect(onlineUsers(pageA)).toHaveText(['Alice (you)', 'Bob'])

  await pageB.context().close()

  await expect(caretLabel(pageA, 'Bob')).toHaveCount(0)
  await expect(onlineUsers(pageA)).toHaveText(['Alice (you)'])
  // The text stays.
  await expect(pageA.locator('.cm-content')).toContainText('Bob, about to leave.')
})

test('a page sends the server its own presence only, never back what it hears of others', async ({ editors }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await expect(onlineUsers(pageB)).toHaveText(['Bob (you)', 'Alice'])
  // Records, from now on, every awareness message (y-websocket message type 1) that B's socket
  // sends; they are read here, with lib0, for the client ids of the states they carry.
  await pageB.evaluate(() => {
    const ws = window.tandem!.provider.ws!
    const send = ws.send.bind(ws)
    const sent: number[][] = []
    ;(window as unknown as { awarenessSent: number[][] }).awarenessSent = sent
    ws.send = (data) => {
      const bytes = new Uint8Array(data as ArrayBuffer)
      if (bytes[0] === 1) sent.push(Array.from(bytes))
      send(data)
    }
  })
  const sentByB = async () => {
    const messages = await pageB.evaluate(() => (window as unknown as { awarenessSent: number[][] }).awarenessSent)
    return messages.map((bytes) => statesIn(Uint8Array.from(bytes)))
  }
  const bId = await pageB.evaluate(() => window.tandem!.awareness.clientID)

  // A types, then moves its caret back: presence changes B hears of (and, while A types at the
  // end, the same cursor again, which the server holds and sends on within 2 s).
  await caretTo(pageA, 'start')
  await pageA.keyboard.type('Alice moves her caret.')
  for (let i = 0; i < 5; i++) await pageA.keyboard.press('ArrowLeft')
  await expect(caretLabel(pageB, 'Alice')).toBeVisible()
  await expect.poll(() => docText(pageB)).toBe('Alice moves her caret.')
  const aliceClock = await pageA.evaluate(() => window.tandem!.awareness.meta.get(window.tandem!.awareness.clientID)!.clock)
  expect(aliceClock, 'A’s presence changed').toBeGreaterThan(5)
  // B has heard all of it once it holds A's latest clock.
  await expect
    .poll(() => pageB.evaluate(() => {
      const { awareness } = window.tandem!
      const alice = [...awareness.getStates().keys()].find((id) => id !== awareness.clientID)
      return alice === undefined ? 0 : awareness.meta.get(alice)!.clock
    }), { message: 'B never heard A’s latest presence' })
    .toBe(aliceClock)
  // B may send its own state (A's typing moves B's caret along), never anyone else's.
  expect((await sentByB()).flat().filter((id) => id !== bId), 'B sent A’s presence back to the server').toEqual([])

  // B's own moves still go out (and the counter sees them).
  await caretTo(pageB, 'end')
  await pageB.keyboard.type(' Bob too.')
  await expect(caretLabel(pageA, 'Bob')).toBeVisible()
  expect((await sentByB()).flat(), 'B’s own presence did not go out').toContain(bId)
})
