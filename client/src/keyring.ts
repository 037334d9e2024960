/**
 * The access tokens this browser has been given, so that a document opened once through a link
 * can be found again from the landing page (recent list, open by name, new document) when the
 * server requires tokens.
 *
 * Kept in localStorage, beside the recent list. A token was already in this browser's address
 * bar and history; keeping it here adds no one who can read it, and a page with no third-party
 * script has no one else to give it to. Expired tokens are dropped when the ring is read.
 */
import { readJson, writeJson } from './storage.js'
import { decodeClaims, type Role } from './token.js'

export interface HeldToken {
  readonly token: string
  /** The `doc` claim: an exact name, a prefix ending in `*`, or `*`. */
  readonly doc: string
  readonly role: Role
  readonly expiresAt: number | null
}

const STORAGE_KEY = 'tandem:tokens'
const MAX_TOKENS = 50

/** A token's claims as the ring needs them; null for one it cannot read (it opens nothing here). */
export function describeToken(token: string): HeldToken | null {
  const claims = decodeClaims(token)
  if (!claims || typeof claims.doc !== 'string' || claims.doc === '') return null
  return {
    token,
    doc: claims.doc,
    role: claims.role === 'editor' ? 'editor' : 'viewer',
    expiresAt: typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : null,
  }
}

/** The same rule as the server's: exact name, prefix ending in `*`, or `*` for every document. */
export function covers(doc: string, name: string): boolean {
  return doc.endsWith('*') ? name.startsWith(doc.slice(0, -1)) : doc === name
}

const live = (held: HeldToken, now: number) => held.expiresAt === null || held.expiresAt > now

export function heldTokens(now = Date.now()): HeldToken[] {
  const stored = readJson(STORAGE_KEY)
  if (!Array.isArray(stored)) return []
  // Whatever was written here is re-read from the token itself, never trusted as stored.
  return stored
    .map((t) => (typeof t === 'string' ? describeToken(t) : null))
    .filter((t): t is HeldToken => t !== null && live(t, now))
}

export function rememberToken(token: string, now = Date.now()): void {
  const held = describeToken(token)
  if (!held || !live(held, now)) return
  const others = heldTokens(now).filter((t) => t.token !== token)
  writeJson(STORAGE_KEY, [token, ...others.map((t) => t.token)].slice(0, MAX_TOKENS))
}

/**
 * Rank of a token for a document: an editor's before a viewer's, then the narrowest claim (an
 * exact name before a prefix before `*`), then the one that lasts longest.
 */
function better(a: HeldToken, b: HeldToken): number {
  if (a.role !== b.role) return a.role === 'editor' ? -1 : 1
  const narrow = (t: HeldToken) => (t.doc.endsWith('*') ? t.doc.length : Infinity)
  if (narrow(a) !== narrow(b)) return narrow(b) - narrow(a)
  return (b.expiresAt ?? Infinity) - (a.expiresAt ?? Infinity)
}

/** The best held token that opens `name`, or null. */
export function tokenFor(name: string, now = Date.now()): string | null {
  const fits = heldTokens(now).filter((t) => covers(t.doc, name))
  return fits.sort(better)[0]?.token ?? null
}

/**
 * A held editor token that can open a document nobody has named yet: one whose claim is `*` or a
 * prefix. New documents are then named under that prefix. Null when there is none.
 */
export function tokenForNewDocs(now = Date.now()): { readonly token: string; readonly prefix: string } | null {
  const wide = heldTokens(now).filter((t) => t.role === 'editor' && t.doc.endsWith('*'))
  const best = wide.sort((a, b) => a.doc.length - b.doc.length)[0]
  return best ? { token: best.token, prefix: best.doc.slice(0, -1) } : null
}
