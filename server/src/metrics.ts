/**
 * Counters for /metrics, in the Prometheus text format. Plain numbers bumped on the hot paths;
 * the text is only built when scraped. Gauges (rooms, connections, Redis) are read at that time.
 */
export class Metrics {
  messagesIn = 0
  messagesOut = 0
  bytesIn = 0
  bytesOut = 0
  connectionsOpened = 0
  closedWithError = 0
  storeAppends = 0
  storeAppendErrors = 0
  storeAppendSeconds = 0

  readonly onAppend = (seconds: number, ok: boolean): void => {
    if (ok) {
      this.storeAppends++
      this.storeAppendSeconds += seconds
    } else {
      this.storeAppendErrors++
    }
  }
}

export interface Gauges {
  readonly instance: string
  readonly rooms: number
  readonly connections: number
  readonly storeUp: boolean
  /** Null when this instance runs without Redis. */
  readonly redis: { readonly up: boolean; readonly lagMs: number | null } | null
}

export function renderMetrics(m: Metrics, g: Gauges): string {
  const label = `{instance=${JSON.stringify(g.instance)}}`
  const lines: string[] = []
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${label} ${value}`)
  }
  metric('tandem_rooms', 'gauge', 'Documents loaded in memory.', g.rooms)
  metric('tandem_connections', 'gauge', 'Open WebSocket connections.', g.connections)
  metric('tandem_connections_opened_total', 'counter', 'WebSocket connections accepted.', m.connectionsOpened)
  metric('tandem_connections_closed_with_error_total', 'counter', 'Connections closed for bad input or errors.', m.closedWithError)
  metric('tandem_messages_in_total', 'counter', 'WebSocket messages received.', m.messagesIn)
  metric('tandem_messages_out_total', 'counter', 'WebSocket messages sent.', m.messagesOut)
  metric('tandem_bytes_in_total', 'counter', 'WebSocket payload bytes received.', m.bytesIn)
  metric('tandem_bytes_out_total', 'counter', 'WebSocket payload bytes sent.', m.bytesOut)
  metric('tandem_store_up', 'gauge', 'Whether the store answered its last health check.', g.storeUp ? 1 : 0)
  metric('tandem_store_appends_total', 'counter', 'Batches appended to the store.', m.storeAppends)
  metric('tandem_store_append_errors_total', 'counter', 'Appends that failed (and were retried).', m.storeAppendErrors)
  metric('tandem_store_append_seconds_total', 'counter', 'Time spent in store appends; divide by appends for the mean latency.', round(m.storeAppendSeconds))
  if (g.redis) {
    metric('tandem_redis_up', 'gauge', 'Whether both Redis connections are ready.', g.redis.up ? 1 : 0)
    metric('tandem_redis_lag_seconds', 'gauge', 'Publish-to-receive delay of the last fan-out message from another instance.', round((g.redis.lagMs ?? 0) / 1000))
  }
  return lines.join('\n') + '\n'
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6
}
