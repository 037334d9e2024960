/**
 * Who is here: remote carets labelled with their owner's name (readable without hovering), the
 * online list, renames, and presence ending when a person leaves.
 */
import type { Page } from '@playwright/test'
import { caretTo, expect, rename, test } from './fixtures.js'

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
