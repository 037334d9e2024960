/** The editor page for /d/<name>: a header of document controls above the editor. */
import { openCollab } from './collab.js'
import { copyLinkButton } from './copy-link.js'
import { h } from './dom.js'
import { createEditor } from './editor.js'
import { loadUser, onlineList, publishUser, userControls } from './presence.js'
import { recordVisit } from './recent.js'
import { trackSaved } from './saved.js'
import { statusIndicator } from './status.js'
import { themeToggle } from './theme.js'

export function mountDocument(root: HTMLElement, name: string): void {
  document.title = `${name} · Tandem`
  recordVisit(name)

  const collab = openCollab(name)
  // Registered before the socket's first message can arrive (it opens asynchronously).
  const saved = trackSaved(collab.provider, collab.doc)
  const user = loadUser()
  publishUser(collab.awareness, user)

  const header = h(
    'header',
    { class: 'doc-header' },
    h(
      'div',
      { class: 'doc-title' },
      h('a', { href: '/', class: 'home-link', 'aria-label': 'Tandem home', title: 'All documents' }, 'Tandem'),
      h('span', { class: 'doc-title-sep', 'aria-hidden': 'true' }, '/'),
      h('h1', { class: 'doc-name', 'data-testid': 'doc-name', title: name }, name),
      statusIndicator(collab, saved),
    ),
    h(
      'div',
      { class: 'doc-actions' },
      onlineList(collab.awareness),
      userControls(collab.awareness, user),
      copyLinkButton(),
      themeToggle(),
    ),
  )
  const editorHost = h('main', { class: 'editor-host' })
  root.replaceChildren(header, editorHost)
  root.className = 'page-document'

  const view = createEditor(editorHost, collab)
  view.focus()

  const { doc, provider, awareness, undoManager } = collab
  window.tandem = { doc, provider, awareness, undoManager }
}
