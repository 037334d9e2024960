/**
 * Fixtures for the end-to-end suite: a real server per test (on a free port, over a fresh data
 * folder, killable and restartable), a fresh document name per test, and editors opened in
 * separate browser contexts (one context = one person, with their own storage and IndexedDB).
 *
 * Nothing here sleeps: every wait is for a condition, with a deadline.
 */
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ServerProcess, type TandemServer } from './server-process.js'
import type { Awareness } from 'y-protocols/awareness'
import type { WebsocketProvider } from 'y-websocket'
import type * as Y from 'yjs'

export { expect }
export type { TandemServer }

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** What the editor page exposes for tests (see the client's main.ts). */
declare global {
  interface Window {
    tandem?: {
      doc: Y.Doc
      provider: WebsocketProvider
      awareness: Awareness
      undoManager: Y.UndoManager
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function hash(text: string): number {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return h >>> 0
}

export interface Rng {
  readonly seed: number
  next(): number
  int(maxExclusive: number): number
  /** A string of `length` characters drawn from `alphabet`. */
  string(length: number, alphabet: string): string
}

function rngFor(runSeed: number, title: string): Rng {
  const seed = (runSeed ^ hash(title)) >>> 0
  const next = createRng(seed)
  const int = (max: number) => Math.floor(next() * max)
  return {
    seed,
    next,
    int,
    string: (length, alphabet) => Array.from({ length }, () => alphabet[int(alphabet.length)]).join(''),
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the product

/**
 * The text a person sees in the editor: every line of `.cm-content`, without widgets (remote
 * carets carry their owner's name as text) or placeholders.
 */
export async function editorText(page: Page): Promise<string> {
  return page.locator('.cm-content').evaluate((content) => {
    const copy = content.cloneNode(true) as HTMLElement
    for (const widget of Array.from(copy.querySelectorAll('[contenteditable="false"], .cm-widgetBuffer'))) widget.remove()
    return Array.from(copy.querySelectorAll('.cm-line'), (line) => line.textContent ?? '').join('\n')
  })
}

/** The shared Y.Text as the page's Yjs document holds it. */
export async function docText(page: Page): Promise<string> {
  return page.evaluate(() => {
    if (!window.tandem) throw new Error('window.tandem is missing')
    return window.tandem.doc.getText('codemirror').toString()
  })
}

/**
 * The document's text as the server holds it, or null when it was never written (404). A server
 * with AUTH_SECRET needs a `token` for the document.
 */
export async function apiText(server: TandemServer, name: string, token?: string): Promise<string | null> {
  const query = token === undefined ? '' : `?token=${encodeURIComponent(token)}`
  const res = await fetch(`${server.url}/api/docs/${encodeURIComponent(name)}/text${query}`)
  if (res.status === 404) return null
  if (!res.ok) throw new Error(`GET /api/docs/${name}/text answered ${res.status}`)
  return res.text()
}

export function status(page: Page) {
  return page.getByTestId('status')
}

/** Waits until the page is connected and everything it holds is stored on the server. */
export async function expectSaved(page: Page, timeout?: number): Promise<void> {
  await expect(status(page)).toHaveAttribute('data-connection', 'connected', { timeout })
  await expect(status(page)).toHaveAttribute('data-status', 'saved', { timeout })
}

/** Waits until the page's document holds exactly `text` and the page says it is all saved. */
export async function expectSavedText(page: Page, text: string, timeout?: number): Promise<void> {
  await expect.poll(() => docText(page), { timeout }).toBe(text)
  await expectSaved(page, timeout)
}

/**
 * Waits until every page shows the same text, which is also the server's, and every page says
 * saved. Returns that text.
 */
export async function expectConverged(server: TandemServer, name: string, pages: readonly Page[], timeout = 15_000): Promise<string> {
  let agreed = ''
  await expect
    .poll(
      async () => {
        const texts = await Promise.all(pages.map(editorText))
        const stored = await apiText(server, name)
        agreed = texts[0] ?? ''
        // One entry when all agree; otherwise the failure shows every version (server's first).
        return Array.from(new Set([stored, ...texts]))
      },
      { message: 'every editor and the server hold the same text', timeout },
    )
    .toHaveLength(1)
  for (const page of pages) {
    await expectSaved(page, timeout)
    // What the editor shows is what the page's Yjs document holds.
    expect(await docText(page)).toBe(agreed)
  }
  return agreed
}

/** How many times `needle` occurs in `text` (overlapping occurrences counted). */
export function occurrences(text: string, needle: string): number {
  let count = 0
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) count++
  return count
}

/** Places the caret at the start or end of the document, with the editor focused. */
export async function caretTo(page: Page, where: 'start' | 'end'): Promise<void> {
  await page.locator('.cm-content').focus()
  await page.keyboard.press(where === 'start' ? 'Control+Home' : 'Control+End')
}

/** Sets this person's display name through the name field. */
export async function rename(page: Page, name: string): Promise<void> {
  const input = page.getByTestId('user-name')
  await input.fill(name)
  await input.press('Enter')
  await expect(input).toHaveValue(name)
}

/**
 * Serves the built editor (client/dist) for the server's origin from the test itself, as a CDN
 * would, so a page can be reloaded while the server process is down. WebSockets are not routed.
 */
export async function serveEditorFromDist(context: BrowserContext, server: TandemServer): Promise<void> {
  const dist = path.join(repo, 'client', 'dist')
  const types: Record<string, string> = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.svg': 'image/svg+xml',
    '.map': 'application/json',
  }
  const origin = new URL(server.url).origin
  // A document fulfilled by the test has no server address, so Chromium counts it as public and
  // blocks its WebSocket to localhost (local network access) unless the person allowed it.
  await context.grantPermissions(['local-network-access'], { origin })
  await context.route(
    (url) => url.origin === origin,
    async (route) => {
      const { pathname } = new URL(route.request().url())
      const file = pathname === '/' || pathname.startsWith('/d/') ? 'index.html' : decodeURIComponent(pathname.slice(1))
      const full = path.join(dist, file)
      if (!full.startsWith(dist + path.sep) || !fs.existsSync(full)) return route.fulfill({ status: 404, body: 'not found' })
      await route.fulfill({ status: 200, contentType: types[path.extname(full)] ?? 'application/octet-stream', body: fs.readFileSync(full) })
    },
  )
}

/**
 * Resolves once every IndexedDB write the page has started is committed: a read-only
 * transaction over a store cannot start before earlier read-write ones over it have finished.
 */
export async function indexedDbSettled(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const names = (await indexedDB.databases()).map((db) => db.name).filter((n): n is string => !!n)
    for (const name of names) {
      await new Promise<void>((resolve, reject) => {
        const open = indexedDB.open(name)
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const db = open.result
          const stores = Array.from(db.objectStoreNames)
          if (stores.length === 0) {
            db.close()
            return resolve()
          }
          const tx = db.transaction(stores, 'readonly')
          tx.oncomplete = () => {
            db.close()
            resolve()
          }
          tx.onerror = () => reject(tx.error)
          for (const store of stores) tx.objectStore(store).count()
        }
      })
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Fixtures

export interface OpenOptions {
  /** The display name this person has (set once and remembered, before the visit begins). */
  readonly name?: string
  /** The document to open; the test's own by default. */
  readonly doc?: string
  /** Do not wait for `data-status=saved` (for pages opened while the server is down). */
  readonly waitForSaved?: boolean
  /** Open it on this server instead of the test's (another instance of a cluster). */
  readonly server?: TandemServer
}

export interface Editors {
  /** A new person: a fresh browser context (own storage and IndexedDB) with one blank page. */
  newPage(label?: string): Promise<Page>
  /** Opens a document's editor as a new person. */
  open(options?: OpenOptions): Promise<Page>
  /** Opens the test's document as one new person per name, in parallel. */
  openMany<const Names extends readonly string[]>(...names: Names): Promise<{ -readonly [K in keyof Names]: Page }>
  /** The URL of a document's editor. */
  urlOf(name: string): string
}

interface Fixtures {
  /** Extra environment for the server (a test.use option). */
  serverEnv: Record<string, string>
  rng: Rng
  server: TandemServer
  docName: string
  editors: Editors
}

export const test = base.extend<Fixtures>({
  serverEnv: [{}, { option: true }],

  rng: async ({}, use, testInfo) => {
    const runSeed = Number(process.env.E2E_SEED ?? '1')
    const rng = rngFor(runSeed, testInfo.titlePath.join(' > '))
    testInfo.annotations.push({ type: 'seed', description: `E2E_SEED=${runSeed} (test seed ${rng.seed})` })
    await use(rng)
  },

  server: async ({ serverEnv }, use, testInfo) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-e2e-'))
    // Rooms unload soon after their last client leaves, so tests also cross load/unload paths.
    const server = new ServerProcess(dataDir, { ROOM_IDLE_MS: '500', ...serverEnv })
    try {
      await server.start(0)
      await use(server)
    } finally {
      await server.stop()
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('server.log', { body: server.log(), contentType: 'text/plain' })
      }
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  },

  docName: async ({ rng }, use, testInfo) => {
    const slug = testInfo.title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40)
    await use(`${slug}-${rng.string(6, 'abcdefghijklmnopqrstuvwxyz0123456789')}`)
  },

  editors: async ({ browser, server, docName }, use, testInfo) => {
    const contexts: BrowserContext[] = []
    const logs: string[] = []
    const pageErrors: string[] = []
    const urlOf = (name: string) => `${server.url}/d/${encodeURIComponent(name)}`

    const newPage = async (label = `person ${contexts.length + 1}`): Promise<Page> => {
      // Clipboard access for the copy-link button.
      const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] })
      contexts.push(context)
      const page = await context.newPage()
      page.on('console', (msg) => logs.push(`[${label}] ${msg.type()}: ${msg.text()}`))
      page.on('pageerror', (err) => pageErrors.push(`[${label}] ${err.stack ?? err.message}`))
      return page
    }

    const open = async (options: OpenOptions = {}): Promise<Page> => {
      const page = await newPage(options.name)
      const on = options.server ?? server
      await page.goto(`${on.url}/d/${encodeURIComponent(options.doc ?? docName)}`)
      await expect(page.locator('.cm-content')).toBeVisible()
      if (options.name) {
        // Named the way a returning person is: set once, remembered, and in place from the
        // first moment of the visit. (A rename during a visit is presence.spec's business.)
        await rename(page, options.name)
        await page.reload()
        await expect(page.getByTestId('user-name')).toHaveValue(options.name)
      }
      if (options.waitForSaved !== false) await expectSaved(page)
      return page
    }

    await use({
      newPage,
      open,
      openMany: (async (...names: string[]) => Promise.all(names.map((name) => open({ name })))) as Editors['openMany'],
      urlOf,
    })

    for (const context of contexts) await context.close()
    if (testInfo.status !== testInfo.expectedStatus && logs.length > 0) {
      await testInfo.attach('browser-console.log', { body: logs.join('\n'), contentType: 'text/plain' })
    }
    // An uncaught exception in the editor is a bug even when the test's assertions passed.
    expect(pageErrors, 'uncaught errors in the pages').toEqual([])
  },
})
