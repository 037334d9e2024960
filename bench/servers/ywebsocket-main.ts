/**
 * y-websocket's reference server, exactly as its bin (`@y/websocket-server/src/server.js`) wires
 * it: ws `noServer`, `setupWSConnection` from its utils, persistence from `YPERSISTENCE` (read by
 * utils at import). The only difference: it prints the port it actually bound, so the harness can
 * use PORT=0.
 */
import http from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { setupWSConnection } from '@y/websocket-server/utils'

// The reference server's own ws (6.x), not Tandem's: resolved from inside its package.
const require = createRequire(import.meta.resolve('@y/websocket-server/utils'))
const WebSocket = require('ws') as { Server: typeof import('ws').WebSocketServer }
const wss = new WebSocket.Server({ noServer: true })
const host = process.env.HOST || 'localhost'
const port = Number(process.env.PORT || '1234')

const server = http.createServer((_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' })
  response.end('okay')
})

wss.on('connection', setupWSConnection)

server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws: unknown) => {
    wss.emit('connection', ws, request)
  })
})

server.listen(port, host, () => {
  process.stdout.write(`listening on port ${(server.address() as AddressInfo).port}\n`)
})
