/**
 * The landing page and the page controls: start a new document, find recent ones again, copy a
 * document's link, switch the theme.
 */
import { caretTo, docText, expect, expectSaved, expectSavedText, test } from './fixtures.js'

test('new document opens an editor and is then listed as recent', async ({ editors, server }) => {
  const page = await editors.newPage()
  await page.goto(server.url)
  await expect(page.getByTestId('recent-docs').getByRole('link')).toHaveCount(0)

  await page.getByTestId('new-doc').click()
  await expect(page).toHaveURL(/\/d\/[^/]+$/)
  await expect(page.locator('.cm-content')).toBeVisible()
  await expectSaved(page)
  const docUrl = page.url()
  const name = decodeURIComponent(new URL(docUrl).pathname.slice('/d/'.length))
  expect(name).not.toBe('')
  await caretTo(page, 'end')
  await page.keyboard.type('A new document.')
  await expectSavedText(page, 'A new document.')

  await page.goto(server.url)
  const recent = page.getByTestId('recent-docs').getByRole('link', { name, exact: true })
  await expect(recent).toBeVisible()
  await recent.click()
  await expect(page).toHaveURL(docUrl)
  await expectSaved(page)
  await expect.poll(() => docText(page)).toBe('A new document.')
})

test('a document name that needs encoding round-trips through the address and recent list', async ({ editors, server }) => {
  const name = 'Meeting notes: ü/2 & more?'
  const page = await editors.open({ doc: name })
  await caretTo(page, 'end')
  await page.keyboard.type('Encoded.')
  await expectSavedText(page, 'Encoded.')
  const res = await fetch(`${server.url}/api/docs/${encodeURIComponent(name)}/text`)
  expect(await res.text()).toBe('Encoded.')

  await page.goto(server.url)
  const recent = page.getByTestId('recent-docs').getByRole('link', { name, exact: true })
  await expect(recent).toBeVisible()
  await recent.click()
  await expect(page).toHaveURL(editors.urlOf(name))
  await expectSaved(page)
  await expect.poll(() => docText(page)).toBe('Encoded.')
})

test('copy link puts the document address on the clipboard', async ({ editors, docName }) => {
  const page = await editors.open()
  await page.getByTestId('copy-link').click()
  await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(editors.urlOf(docName))
})

test('the theme toggle changes the look and is remembered', async ({ editors }) => {
  const page = await editors.open()
  const editor = page.locator('.cm-editor')
  const before = await editor.evaluate((el) => getComputedStyle(el).backgroundColor)

  await page.getByTestId('theme-toggle').click()
  await expect(editor).not.toHaveCSS('background-color', before)
  const after = await editor.evaluate((el) => getComputedStyle(el).backgroundColor)

  await page.reload()
  await expect(editor).toHaveCSS('background-color', after)
  await page.getByTestId('theme-toggle').click()
  await expect(editor).toHaveCSS('background-color', before)
})
