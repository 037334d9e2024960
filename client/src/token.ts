/**
 * The access token a link carries (`/d/<name>?token=<jwt>`) and what it says about this visit.
 *
 * The payload is decoded without checking the signature: the browser has no key, and it need
 * not be trusted here. The server verifies every connection and request; the page only uses the
 * claims to present itself honestly (a read-only editor for a viewer, the name from the link).
 */

export type Role = 'editor' | 'viewer'

export interface Access {
  /** The raw token, sent to the server as is; null when the link has none (auth off). */
  readonly token: string | null
  /** Without a token, or with one the page cannot read, the server decides; until then, edit. */
  readonly role: Role
  /** The display name the link assigns, if any. */
  readonly name: string | null
  /** When the token stops working (ms since epoch), if it says. */
  readonly expiresAt: number | null
}

const NO_TOKEN: Access = { token: null, role: 'editor', name: null, expiresAt: null }

/** The page's access, from its query string (`location.search`). */
export function readAccess(search: string): Access {
  const token = new URLSearchParams(search).get('token')
  if (!token) return NO_TOKEN
  const claims = decodeClaims(token)
  if (!claims) return { ...NO_TOKEN, token }
  return {
    token,
    // The server treats a token without a valid role claim as a viewer's; so does the page.
    role: claims.role === 'editor' ? 'editor' : 'viewer',
    name: typeof claims.name === 'string' && claims.name.trim() !== '' ? claims.name.trim() : null,
    expiresAt: typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : null,
  }
}

/** The JSON payload of a compact JWT, or null when `token` is not one. */
export function decodeClaims(token: string): Record<string, unknown> | null {
  const payload = token.split('.')[1]
  if (payload === undefined || !/^[\w-]+$/.test(payload)) return null
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/')
    const bytes = Uint8Array.from(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '=')), (c) => c.charCodeAt(0))
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes))
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null
  } catch {
    return null
  }
}
