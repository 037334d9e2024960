/**
 * A small TCP load balancer for tests, standing in for nginx in front of several instances: it
 * listens on a free port and hands each incoming connection to a backend, skipping backends that
 * refuse the connection (a dead instance), and cuts the client when its backend goes away, so
 * the client reconnects through it to a live one. No stickiness: every connection is routed
 * afresh.
 */
import net from 'node:net'
import type { Cleanup } from './cleanup.js'

export type Routing =
  /** Always the first live backend in the list (active/passive). */
  | 'first'
  /** Each connection starts one further along the list (spreads clients over instances). */
  | 'round-robin'

export class TcpProxy {
  readonly port: number
  /** The backend port each connection was handed to, in order of arrival. */
  readonly routed: number[] = []
  private readonly server: net.Server
  private readonly backends: readonly number[]
  private readonly routing: Routing
  private readonly sockets = new Set<net.Socket>()
  private turn = 0

  private constructor(server: net.Server, port: number, backends: readonly number[], routing: Routing) {
    this.server = server
    this.port = port
    this.backends = backends
    this.routing = routing
  }

  /** Listens on 127.0.0.1 and a free port; closed (with every connection) at teardown. */
  static async start(cleanup: Cleanup, backends: readonly number[], routing: Routing = 'first'): Promise<TcpProxy> {
    const server = net.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port, backends, routing)
    server.on('connection', (client) => proxy.accept(client))
    cleanup.add(() => proxy.close())
    return proxy
  }

  /** `ws://` base URL for stock providers. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`
  }

  /** Stops listening and cuts every connection. */
  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  private accept(client: net.Socket): void {
    this.track(client)
    // Hold what the client sends (its upgrade request) until a backend is connected.
    client.pause()
    client.on('error', () => {})
    const start = this.routing === 'round-robin' ? this.turn++ % this.backends.length : 0
    const order = this.backends.map((_, i) => this.backends[(start + i) % this.backends.length]!)
    const attempt = (i: number) => {
      if (client.destroyed) return
      const port = order[i]
      if (port === undefined) {
        client.destroy() // every backend refused: the client sees a failed connection and retries
        return
      }
      let connected = false
      const upstream = net.connect({ host: '127.0.0.1', port })
      this.track(upstream)
      upstream.on('error', () => {
        if (!connected) attempt(i + 1)
      })
      upstream.once('connect', () => {
        connected = true
        if (client.destroyed) {
          upstream.destroy()
          return
        }
        this.routed.push(port)
        upstream.on('close', () => client.destroy())
        client.on('close', () => upstream.destroy())
        client.pipe(upstream)
        upstream.pipe(client)
        client.resume()
      })
    }
    attempt(0)
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
  }
}
