/**
 * Serves the built editor (client/dist). Hashed assets are cached for good; index.html never is,
 * so a new build reaches browsers on their next load.
 */
import fs from 'node:fs'
import type http from 'node:http'
import path from 'node:path'

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
}

export function sendIndex(clientDir: string, res: http.ServerResponse): void {
  sendFile(path.join(clientDir, 'index.html'), res, 'no-cache', () => {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' })
    res.end('The editor is not built yet: run `npm run build` (npm start does it for you).\n')
  })
}

/** Serves a file under `clientDir` for `urlPath`; returns false when there is none. */
export function sendAsset(clientDir: string, urlPath: string, res: http.ServerResponse, notFound: () => void): void {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return notFound()
  }
  const file = path.join(clientDir, path.normalize(decoded))
  // path.join normalises `..`; anything that escapes the folder is not ours to serve.
  if (!file.startsWith(clientDir + path.sep)) return notFound()
  const cache = decoded.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'
  sendFile(file, res, cache, notFound)
}

function sendFile(file: string, res: http.ServerResponse, cacheControl: string, notFound: () => void): void {
  fs.stat(file, (err, stat) => {
    if (err || !stat.isFile()) return notFound()
    res.writeHead(200, {
      'content-type': contentTypes[path.extname(file)] ?? 'application/octet-stream',
      'content-length': stat.size,
      'cache-control': cacheControl,
    })
    fs.createReadStream(file).on('error', () => res.destroy()).pipe(res)
  })
}
