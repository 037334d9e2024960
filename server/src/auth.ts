/**
 * Who may open which document, decided from a JWT before any WebSocket or room exists.
 *
 * Tokens are verified with `jose` against an algorithm allowlist per key: HS256 with
 * AUTH_SECRET, RS256/ES256 with AUTH_PUBLIC_KEY. Anything else (`alg: none`, a public key used
 * as an HMAC secret, an unknown algorithm) is refused. With neither key configured, auth is off
 * and everyone is an editor.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import type { JWTPayload } from 'jose'

export type Role = 'editor' | 'viewer'

export interface Grant {
  readonly role: Role
  /** Display name from the token, shown in presence. */
  readonly name: string | null
  /** When the token stops being valid (ms since epoch), or null for no expiry. */
  readonly expiresAt: number | null
}

export type Decision =
  | { readonly ok: true; readonly grant: Grant }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string }

export interface Auth {
  readonly enabled: boolean
  /** Whether this server can mint tokens (it holds the HMAC secret). */
  readonly canMint: boolean
  authorize(token: string | null, doc: string): Promise<Decision>
  mint(claims: { doc: string; role: Role; ttlSeconds: number; name?: string }): Promise<string>
}

export interface AuthOptions {
  readonly secret: string | null
  /** PEM of an RSA or EC public key for tokens minted elsewhere. */
  readonly publicKeyPem: string | null
}

const OPEN: Grant = { role: 'editor', name: null, expiresAt: null }

export function createAuth(options: AuthOptions): Auth {
  const secret = options.secret ? new TextEncoder().encode(options.secret) : null
  const publicKey: KeyObject | null = options.publicKeyPem ? createPublicKey(options.publicKeyPem) : null
  const enabled = secret !== null || publicKey !== null
  // jose is loaded on first use: a server with auth off never needs it, and it costs a few MB.
  let joseModule: Promise<typeof import('jose')> | null = null
  const jose = () => (joseModule ??= import('jose'))
  // With auth on, start loading now so the first upgrade does not wait (a failure shows there).
  if (enabled) jose().catch(() => {})

  async function verify(token: string): Promise<JWTPayload> {
    const { decodeProtectedHeader, jwtVerify } = await jose()
    // Pick the key by the header's algorithm, from a fixed list: the token never chooses how it
    // is checked beyond that (no `none`, no RS256 key reused as an HMAC secret).
    const { alg } = decodeProtectedHeader(token)
    if (alg === 'HS256' && secret) return (await jwtVerify(token, secret, { algorithms: ['HS256'] })).payload
    if ((alg === 'RS256' || alg === 'ES256') && publicKey) {
      return (await jwtVerify(token, publicKey, { algorithms: ['RS256', 'ES256'] })).payload
    }
    throw new Error(`algorithm ${String(alg)} is not accepted`)
  }

  return {
    enabled,
    canMint: secret !== null,
    async authorize(token, doc) {
      if (!enabled) return { ok: true, grant: OPEN }
      if (!token) return { ok: false, status: 401, reason: 'a token is required' }
      let payload: JWTPayload
      try {
        payload = await verify(token)
      } catch (err) {
        const reason = err instanceof (await jose()).errors.JWTExpired ? 'token expired' : 'invalid token'
        return { ok: false, status: 401, reason }
      }
      const role = payload.role ?? 'viewer'
      if (role !== 'editor' && role !== 'viewer') return { ok: false, status: 401, reason: 'invalid token' }
      if (typeof payload.doc !== 'string' || !grants(payload.doc, doc)) {
        return { ok: false, status: 403, reason: 'token is not for this document' }
      }
      const name = typeof payload.name === 'string' && payload.name.length <= 100 ? payload.name : null
      return { ok: true, grant: { role, name, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null } }
    },
    async mint({ doc, role, ttlSeconds, name }) {
      if (!secret) throw new Error('minting tokens needs AUTH_SECRET')
      const claims: Record<string, string> = { doc, role }
      if (name) claims.name = name
      const { SignJWT } = await jose()
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
        .sign(secret)
    },
  }
}

/** `doc` claim semantics: `*` is every document, `prefix*` every name starting with prefix. */
export function grants(pattern: string, doc: string): boolean {
  if (pattern === '*') return true
  if (pattern.endsWith('*')) return doc.startsWith(pattern.slice(0, -1))
  return pattern === doc
}

/** A JWT looks like three base64url parts; used to tell a token offered as a subprotocol. */
export function looksLikeJwt(value: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(value)
}

/** "24h", "30m", "7d", "90s" or plain seconds. */
export function parseTtl(text: string): number | null {
  const match = /^(\d+)\s*([smhd]?)$/.exec(text.trim())
  if (!match) return null
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd']
  const seconds = Number(match[1]) * unit
  return seconds > 0 ? seconds : null
}
