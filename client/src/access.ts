/**
 * Noticing that the server will not let this link in, and saying so.
 *
 * Two ways it happens. A token that expires during a connection is closed with 4401, which the
 * provider already treats as final. A token refused at the upgrade (401, 403) is invisible to a
 * browser: the socket just fails (1006), like a network error, and the provider would retry
 * forever. So after an attempt that never opened, the page asks the same question over plain
 * HTTP, where the status is readable, and stops the provider when the answer is no.
 */
import type { Collab } from './collab.js'
import { h } from './dom.js'
import type { Access } from './token.js'

/** Why the server refuses this link: its token expired, or it never was good for this document. */
export type Refusal = 'expired' | 'invalid'

export const CLOSE_TOKEN_EXPIRED = 4401

export interface AccessWatch {
  refusal(): Refusal | null
  /** Calls `listener` once, when a refusal is first known. */
  onRefused(listener: (refusal: Refusal) => void): void
}

export const refusalText: Record<Refusal, string> = {
  expired: 'Your access has expired: ask for a new link',
  invalid: 'This link is not valid for this document',
}

/** Where the page asks whether its token opens the document: the text endpoint's answer. */
function probeUrl(name: string): string {
  return `/api/docs/${encodeURIComponent(name)}/text`
}

export function watchAccess(collab: Collab, access: Access): AccessWatch {
  const { provider } = collab
  let refusal: Refusal | null = null
  let opened = false
  let probing = false
  const listeners: Array<(refusal: Refusal) => void> = []

  const refuse = (why: Refusal) => {
    if (refusal) return
    refusal = why
    provider.disconnect()
    for (const listener of listeners) listener(why)
  }

  // A refused token and an expired one look alike at the door (401); the token says which.
  const expired = () => access.expiresAt !== null && access.expiresAt <= Date.now()

  const probe = async () => {
    if (probing || refusal) return
    probing = true
    try {
      // HEAD: only the status matters, not the text. The header keeps the token out of logs.
      const res = await fetch(probeUrl(collab.name), {
        method: 'HEAD',
        cache: 'no-store',
        headers: access.token ? { authorization: `Bearer ${access.token}` } : {},
      })
      if (res.status === 401 || res.status === 403) refuse(res.status === 401 && expired() ? 'expired' : 'invalid')
    } catch {
      // Unreachable: a network problem, which the provider's retries are for.
    } finally {
      probing = false
    }
  }

  provider.on('status', ({ status }) => {
    if (status === 'connecting') opened = false
    if (status === 'connected') opened = true
  })
  provider.on('connection-close', (event) => {
    // `event` is null when the page closed the socket itself.
    if (event && !opened) void probe()
  })
  provider.on('closed', ({ code }) => {
    if (code === CLOSE_TOKEN_EXPIRED) refuse('expired')
  })

  return {
    refusal: () => refusal,
    onRefused: (listener) => void listeners.push(listener),
  }
}

/** A line under the page header saying why the document cannot be reached with this link. */
export function accessNotice(watch: AccessWatch): HTMLElement {
  const el = h('p', { class: 'access-notice', role: 'alert', 'data-testid': 'access-notice', hidden: true })
  const render = (refusal: Refusal | null) => {
    el.hidden = refusal === null
    el.textContent = refusal ? refusalText[refusal] : ''
    if (refusal) el.dataset.refusal = refusal
  }
  render(watch.refusal())
  watch.onRefused(render)
  return el
}
