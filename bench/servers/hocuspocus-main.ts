/**
 * Hocuspocus with its SQLite extension on a file, default configuration otherwise (debounced
 * store: 2 s, at most 10 s; SIGTERM stores and exits). Prints the bound port.
 */
import path from 'node:path'
import { Server } from '@hocuspocus/server'
import { SQLite } from '@hocuspocus/extension-sqlite'

const dataDir = process.env.DATA_DIR
if (!dataDir) throw new Error('DATA_DIR is required')

const server = new Server({
  port: Number(process.env.PORT || '0'),
  address: process.env.HOST || '127.0.0.1',
  quiet: true,
  extensions: [new SQLite({ database: path.join(dataDir, 'hocuspocus.sqlite') })],
})

await server.listen()
process.stdout.write(`listening on port ${server.address.port}\n`)
