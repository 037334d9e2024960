/**
 * Per-connection rate budgets (limits.ts, connection.ts): a flood is slowed by no longer reading
 * its socket, so TCP pushes back on the sender and other rooms keep their latency; a sender that
 * runs further ahead than ABUSE_AFTER_SECONDS is closed with 4429 (and its socket really ends);
 * a person typing and pasting is never slowed at the default limits.
 */
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { RateBudget } from '../src/limits.js'
import { encodeUpdate, MessageType } from '../src/protocol.js'
import { Cleanup } from './helpers/cleanup.js'
import { RawClient, stockClient, upgradeStatus, type StockClient } from './helpers/clients.js'
import { Editor } from './helpers/peers.js'
import { startServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'
import { test } from './helpers/test.js'

/** Counts how often any server socket in this process stops reading (ws's pause()). */
function countPauses(cleanup: Cleanup): { count: number } {
  const proto = WebSocket.prototype
  const original = proto.pause
  const counter = { count: 0 }
  proto.pause = function (this: WebSocket) {
    counter.count++
    original.call(this)
  }
  cleanup.add(() => {
    proto.pause = original
  })
  return counter
}

/**
 * Sends frames as fast as the socket takes them, a batch per event-loop turn (so the flooder,
 * in this process, does not starve the server it floods), until stopped or closed.
 */
function flood(client: RawClient, next: () => Uint8Array, maxBuffered = 4 * 2 ** 20): { sent: number; backlog: number; stop(): void } {
  const state = { sent: 0, backlog: 0, stopped: false, stop: () => void (state.stopped = true) }
  const loop = () => {
    if (state.stopped || client.ws.readyState !== WebSocket.OPEN) return
    for (let i = 0; i < 200 && client.ws.bufferedAmount < maxBuffered; i++) {
      client.ws.send(next())
      state.sent++
    }
    // What the kernel would not take: the server is not reading.
    state.backlog = Math.max(state.backlog, client.ws.bufferedAmount)
    setImmediate(loop)
  }
  loop()
  return state
}

/** Round trips through another room: b1 types a mark, b2 sees it. Returns the median in ms. */
async function medianEcho(b1: StockClient, b2: StockClient, label: string, n = 5): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const mark = `<${label}${i}>`
    const start = performance.now()
    b1.text.insert(b1.text.length, mark)
    await waitFor(() => b2.text.toString().includes(mark), { message: `${mark} never reached b2` })
    times.push(performance.now() - start)
  }
  return times.sort((x, y) => x - y)[Math.floor(n / 2)]!
}

test('1. RateBudget: a 10 s burst, then the sustained rate; bytes likewise, two maximum messages always pass', () => {
  const budget = new RateBudget({ messagesPerSecond: 100, bytesPerSecond: 1000, maxMessageBytes: 4096 }, 0)
  for (let i = 0; i < 1000; i++) assert.equal(budget.charge(1, 0), 0, `message ${i} of the burst`)
  assert.equal(budget.charge(1, 0), 0.01, 'one message over: 10 ms ahead')
  assert.equal(budget.charge(1, 10), 0.01, '10 ms later it has earned one message back')
  assert.equal(budget.charge(1, 1010), 0, 'a second later, 100 more are allowed')

  const bytes = new RateBudget({ messagesPerSecond: 1000, bytesPerSecond: 100, maxMessageBytes: 4096 }, 0)
  assert.equal(bytes.charge(4096, 0), 0)
  assert.equal(bytes.charge(4096, 0), 0, 'two maximum messages pass even above 10 s of bytes')
  assert.equal(bytes.charge(100, 0), 1, 'then each 100 bytes is a second ahead')
})

test('2. a flood is slowed to its budget (the server stops reading; the sender backs up); other rooms stay fast', async (t) => {
  const cleanup = new Cleanup(t)
  const pauses = countPauses(cleanup)
  const rate = 100
  const server = await startServer(cleanup, {
    env: { MESSAGES_PER_SECOND: String(rate), ABUSE_AFTER_SECONDS: '5', BYTES_PER_SECOND: String(2 ** 30) },
  })
  const b1 = await stockClient(cleanup, server.wsUrl, 'quiet-room')
  const b2 = await stockClient(cleanup, server.wsUrl, 'quiet-room')
  const before = await medianEcho(b1, b2, 'before')

  const observer = await RawClient.connect(cleanup, `${server.wsUrl}/loud-room`)
  const flooder = await RawClient.connect(cleanup, `${server.wsUrl}/loud-room`)
  await flooder.waitFrame('sync-step1')
  const author = new Editor(666)
  cleanup.add(() => author.destroy())
  // 4 KB each: a read of the socket then holds a few messages, so handling comes in small steps.
  const line = 'x'.repeat(4000)
  // Lines relayed, counted by content: the server merges updates that came together into one.
  let lines = 0
  let seen = 0
  const relayed = () => {
    for (; seen < observer.frames.length; seen++) {
      const f = observer.frames[seen]!
      if (f.kind === 'update') for (const struct of Y.decodeUpdate(f.update).structs) lines += struct.length / line.length
    }
    return lines
  }
  // Each line goes first: appended lines would merge into one run that Yjs re-copies on every
  // update (a cost that grows with the run, on both sides), and this measures the limiter.
  const flow = flood(flooder, () => encodeUpdate(author.insert(0, line)))
  cleanup.add(() => flow.stop())

  // The burst (10 s of budget) goes through at once; after it, count how long 150 more take.
  const burst = rate * 10
  await waitFor(() => relayed() >= burst + 50, { message: () => `only ${relayed()} of the burst relayed` })
  const from = relayed()
  const started = performance.now()
  await waitFor(() => relayed() >= from + 150, { timeoutMs: 15_000, message: () => `stalled at ${relayed()}` })
  const seconds = (performance.now() - started) / 1000
  const measured = (relayed() - from) / seconds
  // Meanwhile, in another room: measured while the flood goes on (it is still being relayed).
  const beforeEcho = relayed()
  const during = await medianEcho(b1, b2, 'during')
  await waitFor(() => relayed() > beforeEcho, { message: 'the flood stopped before the echoes were measured' })
  t.diagnostic(`after the burst: ${measured.toFixed(0)} updates/s (budget ${rate}); sent ${flow.sent}, relayed ${relayed()}, backlog ${(flow.backlog / 2 ** 20).toFixed(1)} MiB; echo p50 ${before.toFixed(1)} ms before, ${during.toFixed(1)} ms during; ${pauses.count} pauses`)

  assert.ok(measured < rate * 3, `handled ${measured.toFixed(0)}/s, budget ${rate}/s: the flood was not slowed`)
  assert.ok(pauses.count > 0, 'the server never stopped reading the flooder')
  assert.ok(flow.backlog > 2 ** 20, `the sender’s socket did not back up: at most ${flow.backlog} bytes waited (sent ${flow.sent}, handled ${relayed()})`)
  assert.equal(flooder.isClosed, false, 'slowed, not closed: it never got ABUSE_AFTER_SECONDS ahead')
  assert.ok(during < 200, `another room’s echo p50 was ${during.toFixed(0)} ms during the flood (${before.toFixed(0)} ms before)`)
  assert.deepEqual([...b1.closeCodes, ...b2.closeCodes], [])
})

test('3. a sender far past ABUSE_AFTER_SECONDS is closed with 4429 after its budget, and its socket really ends', async (t) => {
  const cleanup = new Cleanup(t)
  const rate = 100
  const server = await startServer(cleanup, {
    env: { MESSAGES_PER_SECOND: String(rate), ABUSE_AFTER_SECONDS: '1', MAX_CONNECTIONS_PER_IP: '3' },
  })
  const a = await stockClient(cleanup, server.wsUrl, 'room')
  const b = await stockClient(cleanup, server.wsUrl, 'room')
  const flooder = await RawClient.connect(cleanup, `${server.wsUrl}/room`)
  await flooder.waitFrame('sync-step1')
  const metric = async (name: string) => {
    const text = await (await fetch(`${server.httpUrl}/metrics`)).text()
    return Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1])
  }
  const handledBefore = await metric('tandem_messages_in_total')

  // Tiny frames (an empty presence update): one read of the socket carries more than a
  // second's budget, so the debt passes ABUSE_AFTER_SECONDS before pausing could help.
  const started = performance.now()
  const flow = flood(flooder, () => new Uint8Array([MessageType.awareness, 1, 0]))
  cleanup.add(() => flow.stop())
  // The client sees the close (which needs the server to finish the close handshake) promptly.
  const closed = await flooder.waitClosed({ timeoutMs: 10_000, message: 'the flooder was not closed' })
  assert.equal(closed.code, 4429, closed.reason)
  const handled = (await metric('tandem_messages_in_total')) - handledBefore
  t.diagnostic(`closed ${closed.code} after ${(performance.now() - started).toFixed(0)} ms; ${handled} of ${flow.sent} frames handled`)
  // The burst, plus ABUSE_AFTER_SECONDS of budget, plus what time refilled meanwhile (generous:
  // a loaded machine is slow); not the tens of thousands of frames that were sent.
  const allowed = rate * 10 + rate * 1
  assert.ok(handled >= allowed && handled < allowed + 1000, `handled ${handled} of ${flow.sent} frames; the budget allowed ${allowed}`)

  // The room and its other clients carried on; the flooder's address slot is free again.
  a.text.insert(0, 'still')
  await waitFor(() => b.text.toString() === 'still', { message: 'b stopped receiving' })
  assert.deepEqual([...a.closeCodes, ...b.closeCodes], [])
  await waitFor(() => server.server.stats().connections === 2, { message: 'the flooder is still counted' })
  assert.equal(await upgradeStatus(`${server.wsUrl}/room`), 101, 'the closed flooder still holds its per-address slot')
})

test('4. at the default limits, a person typing 20 times a second with a 200 KB paste is never slowed or closed', async (t) => {
  const cleanup = new Cleanup(t)
  const pauses = countPauses(cleanup)
  const server = await startServer(cleanup)
  const typist = await stockClient(cleanup, server.wsUrl, 'typing')
  const reader = await stockClient(cleanup, server.wsUrl, 'typing')
  const seen = new Map<string, number>()
  const sentAt = new Map<string, number>()
  reader.doc.on('update', () => {
    const text = reader.text.toString()
    for (const mark of sentAt.keys()) if (!seen.has(mark) && text.includes(mark)) seen.set(mark, performance.now())
  })

  const paste = 'lorem ipsum '.repeat(200_000 / 12)
  for (let i = 0; i < 40; i++) {
    const mark = `<${i}>`
    sentAt.set(mark, performance.now())
    typist.text.insert(typist.text.length, mark)
    // A cursor move with every keystroke: a second message each time.
    typist.provider.awareness.setLocalStateField('cursor', { at: typist.text.length })
    if (i === 20) typist.text.insert(typist.text.length, paste)
    // The typist's pace: this is the workload, not a wait for something to happen.
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await waitFor(() => seen.size === sentAt.size, { message: () => `the reader saw ${seen.size} of ${sentAt.size} keystrokes` })
  assert.ok(reader.text.toString().includes(paste), 'the paste did not arrive')
  const latencies = [...sentAt].map(([mark, at]) => seen.get(mark)! - at).sort((x, y) => x - y)
  t.diagnostic(`keystroke latency p50 ${latencies[20]!.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`)
  assert.equal(pauses.count, 0, 'the server paused reading the typist')
  assert.ok(latencies.at(-1)! < 1000, `a keystroke took ${latencies.at(-1)!.toFixed(0)} ms to arrive`)
  assert.deepEqual([...typist.closeCodes, ...reader.closeCodes], [])
  assert.equal(server.logs.filter((line) => /closing connection/.test(line)).length, 0, server.logs.join('\n'))
})
