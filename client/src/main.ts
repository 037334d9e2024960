/**
 * Routes: `/d/<name>` is a document's editor, anything else the landing page. Each page is its
 * own chunk, so the landing page does not download the editor (CodeMirror and its languages).
 */
import './style.css'
import { initTheme } from './theme.js'

const DOC_PREFIX = '/d/'

function docNameFromPath(pathname: string): string | null {
  if (!pathname.startsWith(DOC_PREFIX)) return null
  try {
    const name = decodeURIComponent(pathname.slice(DOC_PREFIX.length))
    return name === '' ? null : name
  } catch {
    return null
  }
}

async function route(root: HTMLElement): Promise<void> {
  const name = docNameFromPath(location.pathname)
  if (name !== null) {
    const { mountDocument } = await import('./document-page.js')
    mountDocument(root, name)
    return
  }
  const { mountLanding } = await import('./landing.js')
  const invalid = location.pathname.startsWith(DOC_PREFIX)
  mountLanding(root, invalid ? 'That document address is not valid.' : undefined)
}

initTheme()
const root = document.getElementById('app')
if (!root) throw new Error('index.html has no #app element')
route(root).catch((err: unknown) => {
  // Most likely a chunk that failed to load (offline on a first visit, or a deploy mid-visit).
  console.error(err)
  root.textContent = 'Tandem could not start. Check your connection and reload the page.'
})
