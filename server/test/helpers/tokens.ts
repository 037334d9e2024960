/**
 * Tokens for tests, minted independently of server/src/auth.ts (with jose directly, or by hand
 * for the forged ones), and a raw WebSocket upgrade that reports the status and headers the
 * server answered with.
 */
import crypto, { type KeyObject } from 'node:crypto'
import http from 'node:http'
import { SignJWT } from 'jose'
import { within } from './wait.js'

/** An HS256 secret as long as config.ts requires. */
export const SECRET = 'tandem-test-secret-0123456789-abcdefghij'

export interface Claims {
  doc?: unknown
  role?: unknown
  name?: unknown
  /** Seconds since the epoch; default an hour from now. `null` leaves it out. */
  exp?: number | null
  [claim: string]: unknown
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

function payloadOf(claims: Claims): Record<string, unknown> {
  const { exp, ...rest } = claims
  const payload: Record<string, unknown> = { ...rest, iat: nowSeconds() }
  if (exp !== null) payload.exp = exp ?? nowSeconds() + 3600
  return payload
}

/** Signs `claims` with `key`: a string or bytes (HMAC) or a private KeyObject. */
export function sign(claims: Claims, key: string | Uint8Array | KeyObject, alg = 'HS256'): Promise<string> {
  const material = typeof key === 'string' ? new TextEncoder().encode(key) : key
  return new SignJWT(payloadOf(claims)).setProtectedHeader({ alg, typ: 'JWT' }).sign(material)
}

/** An HS256 token signed with the test SECRET. */
export function token(claims: Claims): Promise<string> {
  return sign(claims, SECRET)
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A token whose header says `alg: none` and that carries no signature, forged by hand. */
export function unsignedToken(claims: Claims): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payloadOf(claims))}.`
}

/** A fresh RSA (RS256) or EC P-256 (ES256) key pair; the public half as PEM. */
export function keyPair(kind: 'rsa' | 'ec'): { privateKey: KeyObject; publicPem: string } {
  const { privateKey, publicKey } =
    kind === 'rsa'
      ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
      : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

export interface UpgradeAnswer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/**
 * Sends a WebSocket upgrade request by hand (so nothing client-side judges the answer, e.g. a
 * subprotocol the server chose not to echo) and returns the status and headers. An accepted
 * socket is destroyed at once.
 */
export function rawUpgrade(url: string, headers: Record<string, string> = {}): Promise<UpgradeAnswer> {
  const req = http.request(url.replace(/^ws/, 'http'), {
    headers: {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'),
      ...headers,
    },
  })
  const answer = new Promise<UpgradeAnswer>((resolve, reject) => {
    req.on('upgrade', (res, socket) => {
      socket.destroy()
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' })
    })
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
  req.end()
  return within(answer, { message: `no answer to the upgrade of ${url}` })
}

export interface Health {
  readonly status: number
  readonly ok: boolean
  readonly rooms: number
  readonly connections: number
}

export async function health(httpUrl: string): Promise<Health> {
  const res = await fetch(`${httpUrl}/healthz`)
  const body = (await res.json()) as Omit<Health, 'status'>
  return { status: res.status, ...body }
}
