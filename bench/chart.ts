/**
 * The latency chart: fan-out keystroke-to-reader latency (p50 dashed, p99 solid) against the
 * number of readers, one colour per server, log-scaled latency. Plain SVG, no dependencies.
 */
import type { Medians, Results } from './report.js'
import { SERVERS, type ServerName } from './servers/index.js'

const COLORS: Record<ServerName, string> = {
  tandem: '#1f77b4',
  ywebsocket: '#ff7f0e',
  hocuspocus: '#2ca02c',
  'tandem-pg': '#9467bd',
  'tandem-cluster': '#d62728',
  'tandem-base': '#7f7f7f',
}

export function latencyChart(results: Results, m: Medians): string | null {
  const readers = results.params.fanout.readers
  const series = results.servers.flatMap((server) =>
    (['p50', 'p99'] as const).map((q) => ({
      server,
      q,
      points: readers
        .map((n) => ({ x: n, y: m.fanout?.[server]?.[`${q}@${n}`]?.value ?? NaN }))
        .filter((p) => Number.isFinite(p.y) && p.y > 0),
    })),
  )
  const ys = series.flatMap((s) => s.points.map((p) => p.y))
  if (ys.length === 0) return null
  const W = 640
  const H = 400
  const left = 70
  const right = 200
  const top = 40
  const bottom = 50
  const yMin = Math.pow(10, Math.floor(Math.log10(Math.min(...ys))))
  const yMax = Math.pow(10, Math.ceil(Math.log10(Math.max(...ys))))
  const xMin = 0
  const xMax = Math.max(...readers) * 1.05
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * (W - left - right)
  const py = (y: number) => top + (1 - (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - top - bottom)
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${left}" y="22" font-size="14" font-weight="bold">Fan-out: keystroke-to-reader latency (${results.mode} run, medians)</text>`)
  for (let d = yMin; d <= yMax * 1.0001; d *= 10) {
    for (const k of [1, 2, 5]) {
      const v = d * k
      if (v > yMax * 1.0001) continue
      out.push(`<line x1="${left}" x2="${W - right}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`)
      out.push(`<text x="${left - 6}" y="${py(v) + 4}" text-anchor="end">${v >= 1 ? v : v.toPrecision(1)} ms</text>`)
    }
  }
  for (const n of readers) {
    out.push(`<line x1="${px(n)}" x2="${px(n)}" y1="${top}" y2="${H - bottom}" stroke="#eee"/>`)
    out.push(`<text x="${px(n)}" y="${H - bottom + 16}" text-anchor="middle">${n}</text>`)
  }
  out.push(`<text x="${(left + W - right) / 2}" y="${H - 12}" text-anchor="middle">readers in the room</text>`)
  out.push(`<rect x="${left}" y="${top}" width="${W - left - right}" height="${H - top - bottom}" fill="none" stroke="#888"/>`)
  let legendY = top + 10
  for (const s of series) {
    if (s.points.length === 0) continue
    const color = COLORS[s.server]
    const dash = s.q === 'p50' ? ' stroke-dasharray="6 4"' : ''
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`)
    for (const p of s.points) out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${color}"/>`)
    out.push(`<line x1="${W - right + 12}" x2="${W - right + 40}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"${dash}/>`)
    out.push(`<text x="${W - right + 46}" y="${legendY + 4}">${SERVERS[s.server].label.split(' (')[0]} ${s.q}</text>`)
    legendY += 18
  }
  out.push('</svg>')
  return out.join('\n') + '\n'
}
