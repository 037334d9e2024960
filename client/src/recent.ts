/** "Your recent documents": names this browser opened, most recent first, kept in localStorage. */
import { readJson, writeJson } from './storage.js'

export interface RecentDoc {
  readonly name: string
  readonly visitedAt: number
}

const STORAGE_KEY = 'tandem:recent'
const MAX_RECENT = 20

export function recentDocs(): RecentDoc[] {
  const stored = readJson(STORAGE_KEY)
  if (!Array.isArray(stored)) return []
  // Another version of the app (or a person with devtools) may have written anything here.
  return stored
    .filter((d): d is RecentDoc => typeof d?.name === 'string' && d.name !== '' && typeof d.visitedAt === 'number')
    .slice(0, MAX_RECENT)
}

export function recordVisit(name: string, now = Date.now()): void {
  const others = recentDocs().filter((d) => d.name !== name)
  writeJson(STORAGE_KEY, [{ name, visitedAt: now }, ...others].slice(0, MAX_RECENT))
}

/** A document's address, with the token that opens it when there is one. */
export function docPath(name: string, token: string | null = null): string {
  const path = `/d/${encodeURIComponent(name)}`
  return token ? `${path}?token=${encodeURIComponent(token)}` : path
}
