/** The editor page for /d/<name>: a header of document controls above the editor. */
import { accessNotice, watchAccess } from './access.js'
import { openCollab } from './collab.js'
import { h } from './dom.js'
import { createEditor, setEditable } from './editor.js'
import { loadUser, onlineList, publishUser, userControls } from './presence.js'
import { recordVisit } from './recent.js'
import { trackSaved } from './saved.js'
import { shareControl } from './share.js'
import { statusIndicator } from './status.js'
import { themeToggle } from './theme.js'
import { rememberToken, tokenFor } from './keyring.js'
import { readAccess } from './token.js'

export function mountDocument(root: HTMLElement, name: string): void {
  document.title = `${name} · Tandem`
  recordVisit(name)

  // The token stays in the address, so a reload keeps working; it is never logged.
  // An address without one (typed, or an old bookmark) gets the best token this browser holds
  // for the document, written back so that reload and Copy link carry it too.
  const access = readAccess(withHeldToken(name))
  if (access.token) rememberToken(access.token)
  const viewer = access.role === 'viewer'
  const collab = openCollab(name, access.token)
  // Registered before the socket's first message can arrive (it opens asynchronously).
  const saved = trackSaved(collab.provider, collab.doc)
  const watch = watchAccess(collab, access)
  const user = loadUser()
  publishUser(collab.awareness, access.name === null ? user : { ...user, name: access.name })

  const header = h(
    'header',
    { class: 'doc-header' },
    h(
      'div',
      { class: 'doc-title' },
      h('a', { href: '/', class: 'home-link', 'aria-label': 'Tandem home', title: 'All documents' }, 'Tandem'),
      h('span', { class: 'doc-title-sep', 'aria-hidden': 'true' }, '/'),
      h('h1', { class: 'doc-name', 'data-testid': 'doc-name', title: name }, name),
      viewer &&
        h(
          'span',
          { class: 'view-only', 'data-testid': 'view-only', title: 'This link lets you read and follow along, not edit' },
          'View only',
        ),
      statusIndicator(collab, saved, watch, viewer),
    ),
    h(
      'div',
      { class: 'doc-actions' },
      onlineList(collab.awareness),
      userControls(collab.awareness, user, access.name),
      shareControl(name, access),
      themeToggle(),
    ),
    accessNotice(watch),
  )
  const editorHost = h('main', { class: 'editor-host' })
  root.replaceChildren(header, editorHost)
  root.className = 'page-document'

  const view = createEditor(editorHost, collab, { editable: !viewer })
  // Whatever is typed after the server refused the link could never be sent.
  watch.onRefused(() => setEditable(view, collab, false))
  view.focus()

  const { doc, provider, awareness, undoManager } = collab
  window.tandem = { doc, provider, awareness, undoManager }
}

/** The page's query string, with a held token added when it carries none. */
function withHeldToken(name: string): string {
  const params = new URLSearchParams(location.search)
  if (params.get('token')) return location.search
  const held = tokenFor(name)
  if (!held) return location.search
  params.set('token', held)
  const search = `?${params}`
  history.replaceState(history.state, '', location.pathname + search + location.hash)
  return search
}
