/**
 * Two people typing at once end up with the same document, which is the server's, holding every
 * character each of them typed exactly once and in the order they typed it.
 */
import { apiText, caretTo, docText, editorText, expect, expectConverged, status, test } from './fixtures.js'

const LOWER = 'abcdefghijklmnopqrstuvwxyz'
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'

/** The characters of `text` that belong to `alphabet`, in order. */
const only = (text: string, alphabet: string) => Array.from(text).filter((c) => alphabet.includes(c)).join('')

test('concurrent typing at the same place converges', async ({ editors, server, docName, rng }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  // Disjoint alphabets: every character in the result can be traced to the person who typed it.
  const typedByA = rng.string(40, LOWER)
  const typedByB = rng.string(40, UPPER)
  await caretTo(pageA, 'start')
  await caretTo(pageB, 'start')

  await Promise.all([pageA.keyboard.type(typedByA), pageB.keyboard.type(typedByB)])

  const text = await expectConverged(server, docName, [pageA, pageB])
  expect(text).toHaveLength(typedByA.length + typedByB.length)
  expect(only(text, LOWER)).toBe(typedByA)
  expect(only(text, UPPER)).toBe(typedByB)
  expect(await editorText(pageA)).toBe(text)
  expect(await editorText(pageB)).toBe(text)
})

test('concurrent typing at different places converges', async ({ editors, server, docName, rng }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageA, 'start')
  await pageA.keyboard.type('-middle-')
  await expectConverged(server, docName, [pageA, pageB])

  const typedByA = rng.string(40, LOWER)
  const typedByB = rng.string(40, UPPER)
  await caretTo(pageA, 'start')
  await caretTo(pageB, 'end')

  await Promise.all([pageA.keyboard.type(typedByA), pageB.keyboard.type(typedByB)])

  const text = await expectConverged(server, docName, [pageA, pageB])
  expect(text).toBe(`${typedByA}-middle-${typedByB}`)
  expect(await editorText(pageA)).toBe(text)
  expect(await editorText(pageB)).toBe(text)
  expect(await apiText(server, docName)).toBe(text)
})

test('three people typing on several lines converge', async ({ editors, server, docName, rng }) => {
  const [pageA, pageB, pageC] = await editors.openMany('Alice', 'Bob', 'Carol')
  await caretTo(pageA, 'start')
  await pageA.keyboard.type('one\ntwo\nthree')
  await expectConverged(server, docName, [pageA, pageB, pageC])

  // A edits the first line, B the last, C the middle line, all at once.
  const typedByA = rng.string(25, LOWER)
  const typedByB = rng.string(25, UPPER)
  const typedByC = rng.string(25, '0123456789')
  await caretTo(pageA, 'start')
  await caretTo(pageB, 'end')
  await caretTo(pageC, 'start')
  await pageC.keyboard.press('ArrowDown')
  await pageC.keyboard.press('End')

  await Promise.all([pageA.keyboard.type(typedByA), pageB.keyboard.type(typedByB), pageC.keyboard.type(typedByC)])

  const text = await expectConverged(server, docName, [pageA, pageB, pageC])
  expect(text).toBe(`${typedByA}one\ntwo${typedByC}\nthree${typedByB}`)
})

test('a large paste reaches everyone', async ({ editors, server, docName, rng }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  // ~200 KB over 2,500 lines: CodeMirror renders only the viewport, so compare documents, not DOM.
  const pasted = Array.from({ length: 2500 }, (_, i) => `${i} ${rng.string(75, LOWER)}`).join('\n')
  await caretTo(pageA, 'start')
  // A real paste (one CodeMirror transaction); insertText of this size takes Chromium ~20 s.
  await pageA.evaluate((text) => navigator.clipboard.writeText(text), pasted)
  await pageA.keyboard.press('Control+v')

  await expect.poll(() => docText(pageB)).toBe(pasted)
  await expect.poll(() => apiText(server, docName)).toBe(pasted)
  await expect(status(pageA)).toHaveAttribute('data-status', 'saved')
  await expect(status(pageB)).toHaveAttribute('data-status', 'saved')
  expect(await docText(pageA)).toBe(pasted)
})
