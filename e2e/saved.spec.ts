/**
 * The saved indicator tells the truth: `data-status=saved` appears only once the server holds
 * what was typed, and what the indicator called saved survives the server being killed. And an
 * edit is not lost when the page goes away right after it, before anyone could see it saved.
 */
import { apiText, caretTo, docText, expect, expectConverged, expectSavedText, status, test } from './fixtures.js'

declare global {
  interface Window {
    /** Each change of the indicator, with the page's text then and the server's text then. */
    savedTransitions?: Array<{ status?: string; connection?: string; local: string; server: string | null }>
  }
}

test('saved appears only once the server holds the typed text', async ({ editors, server, docName }) => {
  const [pageA] = await editors.openMany('Alice')
  await expect(status(pageA)).toHaveText('Saved')
  // Opening a document writes nothing: the server has no text for it yet.
  expect(await apiText(server, docName)).toBeNull()

  // Records every change of the indicator and, at that very moment, asks the server for its text.
  await pageA.evaluate((apiUrl) => {
    const el = document.querySelector<HTMLElement>('[data-testid=status]')!
    const transitions: Window['savedTransitions'] = []
    window.savedTransitions = transitions
    new MutationObserver(() => {
      const entry = {
        status: el.dataset.status,
        connection: el.dataset.connection,
        local: window.tandem!.doc.getText('codemirror').toString(),
        server: null as string | null,
      }
      transitions.push(entry)
      if (entry.status === 'saved') {
        void fetch(apiUrl, { cache: 'no-store' }).then(async (res) => {
          entry.server = res.ok ? await res.text() : `HTTP ${res.status}`
        })
      }
    }).observe(el, { attributes: true, attributeFilter: ['data-status', 'data-connection'] })
  }, `${server.url}/api/docs/${encodeURIComponent(docName)}/text`)

  const typed = 'The quick brown fox jumps over the lazy dog.'
  await caretTo(pageA, 'end')
  for (const char of typed) {
    await pageA.keyboard.type(char)
    // Whenever the page claims saved, the server has at least what the page had then (it only
    // grows: one person appending), so the page's text is a prefix of the server's.
    const now = await pageA.evaluate(() => ({
      status: document.querySelector<HTMLElement>('[data-testid=status]')!.dataset.status,
      local: window.tandem!.doc.getText('codemirror').toString(),
    }))
    if (now.status === 'saved') expect(((await apiText(server, docName)) ?? '').slice(0, now.local.length)).toBe(now.local)
    else expect(now.status).toBe('unsaved')
  }

  await expect(status(pageA)).toHaveAttribute('data-status', 'saved')
  await expect(status(pageA)).toHaveText('Saved')
  expect(await apiText(server, docName)).toBe(typed)
  expect(await docText(pageA)).toBe(typed)

  // Every saved the indicator showed was true at the moment it was shown.
  await expect
    .poll(() => pageA.evaluate(() => window.savedTransitions!.every((t) => t.status !== 'saved' || t.server !== null)))
    .toBe(true)
  const transitions = await pageA.evaluate(() => window.savedTransitions!)
  expect(transitions.length, 'the indicator changed while typing').toBeGreaterThan(0)
  for (const t of transitions) {
    expect(t.connection).toBe('connected')
    expect(['saved', 'unsaved']).toContain(t.status)
    if (t.status === 'saved') expect(t.server?.slice(0, t.local.length), 'the server text when saved was shown').toBe(t.local)
  }
  expect(transitions.at(-1)?.status).toBe('saved')
})

test('what was shown as saved survives the server being killed', async ({ editors, server, docName }) => {
  const [pageA] = await editors.openMany('Alice')
  const typed = 'Durable words.'
  await caretTo(pageA, 'end')
  await pageA.keyboard.type(typed)
  await expectSavedText(pageA, typed)

  // Keep the page from re-sending its copy after the restart: only the store can answer.
  await pageA.context().setOffline(true)
  await server.kill('SIGKILL')
  await server.restart()
  expect(await apiText(server, docName)).toBe(typed)

  await pageA.context().setOffline(false)
  await expect(status(pageA)).toHaveAttribute('data-connection', 'connected', { timeout: 30_000 })
  await expect(status(pageA)).toHaveAttribute('data-status', 'saved')
})

test('an edit typed just before a reload is not lost', async ({ editors, server, docName }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageA, 'end')
  await pageA.keyboard.type('typed, then reloaded at once')
  await pageA.reload()
  expect(await expectConverged(server, docName, [pageA, pageB])).toBe('typed, then reloaded at once')
})

test('an edit typed just before the tab closes is not lost', async ({ editors, server, docName }) => {
  const [pageA, pageB] = await editors.openMany('Alice', 'Bob')
  await caretTo(pageA, 'end')
  await pageA.keyboard.type('typed, then the tab closed')
  await pageA.close()
  expect(await expectConverged(server, docName, [pageB])).toBe('typed, then the tab closed')
})

test('a deletion is not shown as saved until the server has stored it', async ({ editors, server, docName }) => {
  // Everything the page sends goes through this route, so the test can hold it back: while the
  // deletion is held, the server cannot have it, and the page must not say it is saved.
  const page = await editors.newPage('Alice')
  let holding = false
  const held: Array<() => void> = []
  await page.routeWebSocket(/\/ws\//, (ws) => {
    const upstream = ws.connectToServer()
    ws.onMessage((message) => {
      if (holding) held.push(() => upstream.send(message))
      else upstream.send(message)
    })
    upstream.onMessage((message) => ws.send(message))
  })
  await page.goto(editors.urlOf(docName))
  await caretTo(page, 'end')
  await page.keyboard.insertText('hello world')
  await expectSavedText(page, 'hello world')

  holding = true
  await page.keyboard.press('Backspace')
  // The deletion and the question after it are both waiting here, so the page has handled the key.
  await expect.poll(() => held.length).toBeGreaterThanOrEqual(2)
  expect(await docText(page)).toBe('hello worl')
  await expect(status(page)).toHaveAttribute('data-status', 'unsaved')
  expect(await apiText(server, docName)).toBe('hello world')

  holding = false
  for (const send of held.splice(0)) send()
  await expect(status(page)).toHaveAttribute('data-status', 'saved')
  expect(await apiText(server, docName)).toBe('hello worl')
})
