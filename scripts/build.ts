/**
 * `npm run build` and the first half of `npm start`: builds the editor (client/dist) and the
 * server (dist/server) where missing or stale. `npm start` then runs `node dist/server/main.js`
 * itself, a process of its own without the TypeScript loader this script runs under.
 */
import { buildClient } from './client-build.js'
import { buildServer } from './server-build.js'

const force = process.argv.includes('--force')
await buildClient({ force })
buildServer({ force })
