/**
 * Sharing a document: "Copy link" copies this page's address (an edit link for an editor, the
 * view link for a viewer), and its menu offers an editor a view-only link, which the server mints
 * (POST /api/docs/<name>/share, authorised by the page's own token).
 *
 * Without auth there are no view-only links: with no token in the address, or when the server
 * answers that auth is off, the option stays in the menu, disabled and saying why, so the
 * feature can still be found by whoever runs the server.
 */
import { copyText } from './clipboard.js'
import { flash, h } from './dom.js'
import type { Access } from './token.js'

const AUTH_OFF = "Read-only links need the server's AUTH_SECRET"

type Failure = 'auth-off' | 'denied' | 'failed'
type ShareAnswer = { readonly ok: true; readonly url: string } | { readonly ok: false; readonly failure: Failure }

const failureText: Record<Failure, string> = {
  'auth-off': 'Not available',
  denied: 'Your link cannot share',
  failed: 'Could not create a link',
}

async function requestViewLink(name: string, token: string): Promise<ShareAnswer> {
  let res: Response
  try {
    res = await fetch(`/api/docs/${encodeURIComponent(name)}/share`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'viewer' }),
    })
  } catch {
    return { ok: false, failure: 'failed' }
  }
  const body = (await res.json().catch(() => null)) as { url?: unknown; error?: unknown } | null
  // The server answers a path (`/d/<name>?token=…`); this page's origin is the server's.
  if (res.ok && typeof body?.url === 'string' && body.url.startsWith('/')) return { ok: true, url: location.origin + body.url }
  if (res.status === 404 && body?.error === 'auth is off') return { ok: false, failure: 'auth-off' }
  if (res.status === 401 || res.status === 403) return { ok: false, failure: 'denied' }
  return { ok: false, failure: 'failed' }
}

function copyLinkButton(access: Access): HTMLButtonElement {
  const title =
    access.role === 'viewer'
      ? 'Copy this view-only link'
      : access.token
        ? "Copy this page's address: whoever opens it can edit"
        : "Copy this page's address: anyone with it can edit"
  const button = h('button', { type: 'button', class: 'button share-copy', 'data-testid': 'copy-link', title }, 'Copy link')
  button.addEventListener('click', async () => {
    const ok = await copyText(location.href)
    flash(button, ok ? 'Copied!' : 'Copy failed')
  })
  return button
}

/** The "Copy link" button and, for an editor, the menu beside it. */
export function shareControl(name: string, access: Access): HTMLElement {
  const copyLink = copyLinkButton(access)
  // A viewer has nothing more to give than the link it holds.
  if (access.role === 'viewer') return h('div', { class: 'share' }, copyLink)

  const title = h('span', { class: 'share-item-title', 'aria-live': 'polite' }, 'Copy view-only link')
  const hint = h('span', { class: 'share-item-hint' }, 'Can read and follow along live, not edit')
  const viewLink = h('button', { type: 'button', class: 'share-item', 'data-testid': 'copy-view-link' }, title, hint)
  const disable = () => {
    viewLink.disabled = true
    hint.textContent = AUTH_OFF
  }
  const token = access.token
  if (token === null) disable()
  viewLink.addEventListener('click', async () => {
    if (token === null) return
    const answer = requestViewLink(name, token)
    // Started within the click, before any await (see copyText).
    const copied = await copyText(answer.then((a) => (a.ok ? a.url : Promise.reject(new Error(a.failure)))))
    const result = await answer
    if (!result.ok && result.failure === 'auth-off') disable()
    flash(title, copied ? 'Copied view-only link!' : result.ok ? 'Copy failed' : failureText[result.failure])
  })

  const menu = h('div', { class: 'share-menu', id: 'share-menu', 'data-testid': 'share-popover', hidden: true }, viewLink)
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'button share-toggle',
      'data-testid': 'share-menu',
      'aria-haspopup': 'true',
      'aria-expanded': 'false',
      'aria-controls': 'share-menu',
      'aria-label': 'More ways to share',
      title: 'More ways to share',
    },
    '▾',
  )
  const control = h('div', { class: 'share' }, copyLink, toggle, menu)
  const setOpen = (open: boolean) => {
    menu.hidden = !open
    toggle.setAttribute('aria-expanded', String(open))
  }
  toggle.addEventListener('click', () => setOpen(menu.hidden))
  document.addEventListener('pointerdown', (event) => {
    if (!control.contains(event.target as Node)) setOpen(false)
  })
  control.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || menu.hidden) return
    setOpen(false)
    toggle.focus()
  })
  return control
}
