/** The landing page at /: start a document, open one by name, or return to a recent one. */
import { h } from './dom.js'
import { tokenFor, tokenForNewDocs } from './keyring.js'
import { docPath, recentDocs } from './recent.js'
import { themeToggle } from './theme.js'
import { randomDocName } from './words.js'

function timeAgo(then: number, now = Date.now()): string {
  const minutes = Math.round((now - then) / 60_000)
  if (minutes < 1) return 'just now'
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.round(minutes / 60)
  if (hours < 24) return `${hours} h ago`
  return new Date(then).toLocaleDateString()
}

function recentList(): HTMLElement {
  const docs = recentDocs()
  const list = h('ul', { class: 'recent-list', 'data-testid': 'recent-docs' })
  for (const d of docs) {
    list.append(
      h(
        'li',
        { class: 'recent-item' },
        h('a', { href: docPath(d.name, tokenFor(d.name)), class: 'recent-link' }, d.name),
        h('time', { class: 'recent-time', datetime: new Date(d.visitedAt).toISOString() }, timeAgo(d.visitedAt)),
      ),
    )
  }
  return h(
    'section',
    { class: 'card recent', 'aria-labelledby': 'recent-heading' },
    h('h2', { id: 'recent-heading' }, 'Your recent documents'),
    list,
    docs.length === 0 && h('p', { class: 'empty' }, 'Documents you open in this browser will appear here.'),
  )
}

function openForm(): HTMLFormElement {
  const input = h('input', {
    type: 'text',
    id: 'open-name',
    name: 'name',
    required: true,
    maxlength: '256',
    placeholder: 'e.g. team-notes',
    autocomplete: 'off',
    'data-testid': 'open-name',
  })
  const form = h(
    'form',
    { class: 'open-form', 'data-testid': 'open-form' },
    h('label', { for: 'open-name' }, 'Open a document by name'),
    h('div', { class: 'open-row' }, input, h('button', { type: 'submit', class: 'button' }, 'Open')),
  )
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const name = input.value.trim()
    if (name !== '') location.assign(docPath(name, tokenFor(name)))
  })
  return form
}

/**
 * Whether this server asks for tokens, learnt the way any visitor could: the text API refuses
 * (401) a request without one. Asked about a name no one uses, so nothing is read.
 */
async function serverWantsTokens(): Promise<boolean> {
  try {
    const res = await fetch('/api/docs/tandem-auth-probe/text', { method: 'HEAD', cache: 'no-store' })
    return res.status === 401
  } catch {
    return false
  }
}

/**
 * With auth on and no token for new documents in this browser, "New document" would open a page
 * the server refuses: say so instead, and how to get in.
 */
async function explainAuth(newDoc: HTMLButtonElement, note: HTMLElement): Promise<void> {
  if (tokenForNewDocs() || !(await serverWantsTokens())) return
  newDoc.disabled = true
  newDoc.title = 'This server needs an access link to create a document'
  note.textContent = 'This server asks for an access link. Open the link you were given; documents you open appear below.'
  note.hidden = false
}

export function mountLanding(root: HTMLElement, notice?: string): void {
  document.title = 'Tandem'
  const newDoc = h('button', { type: 'button', class: 'button primary big', 'data-testid': 'new-doc' }, 'New document')
  newDoc.addEventListener('click', () => {
    // With auth on, a new document needs a token that opens names nobody has chosen yet.
    const wide = tokenForNewDocs()
    location.assign(wide ? docPath(wide.prefix + randomDocName(), wide.token) : docPath(randomDocName()))
  })
  const authNote = h('p', { class: 'notice', 'data-testid': 'auth-note', hidden: true })
  void explainAuth(newDoc, authNote)

  root.className = 'page-landing'
  root.replaceChildren(
    h('header', { class: 'landing-bar' }, h('span', { class: 'brand' }, 'Tandem'), themeToggle()),
    h(
      'main',
      { class: 'landing' },
      h(
        'section',
        { class: 'hero' },
        h('h1', {}, 'Write together, in real time.'),
        h('p', { class: 'tagline' }, 'Markdown documents anyone with the link can edit. Works offline; saves itself.'),
        notice && h('p', { class: 'notice', role: 'alert' }, notice),
        newDoc,
        authNote,
      ),
      h('section', { class: 'card' }, openForm()),
      recentList(),
    ),
  )
}
