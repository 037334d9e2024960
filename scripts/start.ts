/**
 * `npm start`: builds the editor if its build is missing or stale, then runs the server in this
 * same process (so signals reach it directly and SIGTERM flushes before exit).
 */
import { buildClient } from './client-build.js'

await buildClient()
await import('../server/src/main.js')
