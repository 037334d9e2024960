/**
 * What an HTTP request or WebSocket upgrade says about who is asking: its client address, its
 * Origin, and the token it carries. Pure functions of the request and the settings.
 */
import type http from 'node:http'
import { looksLikeJwt } from './auth.js'
import { queryOf } from './names.js'

/**
 * The client's address. Behind our own proxy (TRUST_PROXY), the last X-Forwarded-For entry: the
 * one our proxy appended. Earlier entries come from the client and could be anything.
 */
export function clientAddress(req: http.IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for']
    const last = (Array.isArray(forwarded) ? forwarded.at(-1) : forwarded)?.split(',').at(-1)?.trim()
    if (last) return last
  }
  return req.socket.remoteAddress ?? 'unknown'
}

/**
 * Browsers always send Origin on WebSocket requests and cannot forge it, so a page from another
 * site is refused unless listed. Non-browser clients send none and are judged by token alone.
 */
export function originAllowed(req: http.IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin
  if (origin === undefined) return true
  if (allowed.includes(origin)) return true
  try {
    // The server's own pages: same host and port as the request (the scheme may differ behind
    // a TLS-terminating proxy).
    return new URL(origin).host === req.headers.host
  } catch {
    return false
  }
}

/**
 * The token of a WebSocket upgrade: the `token` query parameter (the stock provider's
 * `params: { token }`), or a Sec-WebSocket-Protocol value shaped like a JWT (for clients that
 * keep tokens out of URLs and logs).
 */
export function upgradeToken(req: http.IncomingMessage): string | null {
  const fromQuery = queryOf(req.url).get('token')
  if (fromQuery) return fromQuery
  const offered = req.headers['sec-websocket-protocol']
  if (!offered) return null
  for (const value of offered.split(',')) if (looksLikeJwt(value.trim())) return value.trim()
  return null
}

/** The token of an HTTP API request: `Authorization: Bearer …` or the `token` query parameter. */
export function httpToken(req: http.IncomingMessage): string | null {
  const header = req.headers.authorization
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null
  if (match) return match[1]!
  return queryOf(req.url).get('token')
}

/** The subprotocol to answer with: never the token itself (it would be echoed into logs). */
export function chooseProtocol(offered: Set<string>): string | false {
  for (const value of offered) if (!looksLikeJwt(value)) return value
  return false
}
