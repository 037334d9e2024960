import { createHash } from 'node:crypto'

/** A short, stable fingerprint of a document's text, for comparing across processes. */
export function textHash(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 16)
}
