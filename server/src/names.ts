/**
 * Document names as they appear in URLs (`/ws/<name>`, `/d/<name>`, `/api/docs/<name>/text`).
 * A name is the percent-decoded path remainder: 1 to 256 characters (code points), any text.
 */
export const MAX_NAME_LENGTH = 256

export type NameResult = { readonly ok: true; readonly name: string } | { readonly ok: false; readonly reason: string }

export function decodeName(encoded: string): NameResult {
  let name: string
  try {
    name = decodeURIComponent(encoded)
  } catch {
    return { ok: false, reason: 'document name is not valid percent-encoding' }
  }
  // Count code points, not UTF-16 units, so an emoji is one character.
  let length = 0
  for (const _ of name) if (++length > MAX_NAME_LENGTH) break
  if (length === 0) return { ok: false, reason: 'document name is empty' }
  if (length > MAX_NAME_LENGTH) return { ok: false, reason: `document name is longer than ${MAX_NAME_LENGTH} characters` }
  return { ok: true, name }
}

/** The raw (still encoded) path of a request URL, without its query string. */
export function rawPath(url: string | undefined): string {
  const path = url ?? '/'
  const q = path.indexOf('?')
  return q === -1 ? path : path.slice(0, q)
}

export function queryOf(url: string | undefined): URLSearchParams {
  const path = url ?? '/'
  const q = path.indexOf('?')
  return new URLSearchParams(q === -1 ? '' : path.slice(q + 1))
}
