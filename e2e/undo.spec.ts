/**
 * Undo is per person: undoing takes back only your own edits, everywhere, and leaves everyone
 * else's alone.
 */
import { caretTo, editorText, expect, expectConverged, test } from './fixtures.js'

test("undo takes back only the undoer's own edit, on every page", async ({ editors, server, docName }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')

  // Each word arrives as one input event (as a paste would): typed key by key, a word could
  // split into several undo steps if the machine stalled past Y.UndoManager's 500 ms capture window.
  await caretTo(pageA, 'end')
  await pageA.keyboard.insertText('alpha ')
  await expect.poll(() => editorText(pageB)).toBe('alpha ')
  await caretTo(pageB, 'end')
  await pageB.keyboard.insertText('beta ')
  await expect.poll(() => editorText(pageA)).toBe('alpha beta ')

  await pageA.locator('.cm-content').focus()
  await pageA.keyboard.press('Control+z')
  await expect.poll(() => editorText(pageA)).toBe('beta ')
  await expect.poll(() => editorText(pageB)).toBe('beta ')
  expect(await expectConverged(server, docName, [pageA, pageB])).toBe('beta ')

  // Redo brings it back, on both pages; both redo keys work.
  await pageA.keyboard.press('Control+y')
  await expect.poll(() => editorText(pageB)).toBe('alpha beta ')
  await pageA.keyboard.press('Control+z')
  await expect.poll(() => editorText(pageB)).toBe('beta ')
  await pageA.keyboard.press('Control+Shift+z')
  await expect.poll(() => editorText(pageB)).toBe('alpha beta ')

  // And B's undo takes back only B's word.
  await pageB.locator('.cm-content').focus()
  await pageB.keyboard.press('Control+z')
  await expect.poll(() => editorText(pageA)).toBe('alpha ')
  expect(await expectConverged(server, docName, [pageA, pageB])).toBe('alpha ')
})

test('undo with nothing of your own to undo changes nothing', async ({ editors, server, docName }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageA, 'end')
  await pageA.keyboard.insertText('only Alice wrote this')
  await expect.poll(() => editorText(pageB)).toBe('only Alice wrote this')

  await pageB.locator('.cm-content').focus()
  await pageB.keyboard.press('Control+z')
  // Wait for something that must happen after the undo would have: B's next edit arriving at A.
  await caretTo(pageB, 'end')
  await pageB.keyboard.insertText('!')
  await expect.poll(() => editorText(pageA)).toBe('only Alice wrote this!')
  expect(await expectConverged(server, docName, [pageA, pageB])).toBe('only Alice wrote this!')
})
