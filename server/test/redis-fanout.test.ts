/**
 * RedisFanout against a private redis-server the test can stop, restart, or cut single
 * connections of: messages cross between instances (never echoed), and every way Redis can lose
 * messages ends with the instances that may have missed something being told to catch up from
 * the store, while instances that stay alive are never declared gone.
 */
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import type { Envelope } from '../src/fanout/fanout.js'
import { RedisFanout, type RedisFanoutOptions } from '../src/fanout/redis.js'
import { silentLogger } from '../src/log.js'
import { Cleanup } from './helpers/cleanup.js'
import { RedisServer, redisServerBinary } from './helpers/redis-server.js'
import { needs } from './helpers/services.js'
import { waitFor } from './helpers/wait.js'
import { test, type TestContext } from './helpers/test.js'

const awareness = (n: number) => ({ kind: 'awareness' as const, update: new Uint8Array([n]) })

async function setup(t: TestContext) {
  if (!(await needs(t, ['redis-server']))) return null
  const cleanup = new Cleanup(t)
  const redis = await RedisServer.start(cleanup, redisServerBinary()!)
  const instance = (instanceId: string, options: Partial<RedisFanoutOptions> = {}) => {
    const fanout = new RedisFanout({ url: redis.url, prefix: 'fanout-test', instanceId, ...options }, silentLogger)
    const received: Envelope[] = []
    const resumed: number[] = []
    const gone: string[] = []
    fanout.onResume(() => resumed.push(performance.now()))
    fanout.onInstanceGone((id) => gone.push(id))
    cleanup.add(() => fanout.close())
    return { fanout, received, resumed, gone }
  }
  const connected = (...fanouts: RedisFanout[]) =>
    waitFor(() => fanouts.every((f) => f.status().connected), { message: 'fan-outs did not connect to redis' })
  /** Publishes from `from` until `to` receives it: both connections are up and subscribed. */
  const heard = async (from: ReturnType<typeof instance>, to: ReturnType<typeof instance>, n: number) => {
    await waitFor(
      () => {
        if (to.received.some((e) => e.message.kind === 'awareness' && e.message.update[0] === n)) return true
        from.fanout.publish('doc', awareness(n))
        return false
      },
      { message: `message ${n} never arrived` },
    )
  }
  return { cleanup, redis, instance, connected, heard }
}

test('1. messages cross to the other instance, tagged with the sender, never echoed to it', async (t) => {
  const s = await setup(t)
  if (!s) return
  const a = s.instance('a')
  const b = s.instance('b')
  await a.fanout.subscribe('doc', (e) => a.received.push(e))
  await b.fanout.subscribe('doc', (e) => b.received.push(e))
  await s.connected(a.fanout, b.fanout)
  await s.heard(a, b, 1)
  const envelope = b.received.find((e) => e.message.kind === 'awareness')!
  assert.equal(envelope.from, 'a')
  assert.ok(Math.abs(envelope.sentAt - Date.now()) < 5000)
  a.fanout.publish('doc', { kind: 'updates', first: 1, last: 1, updates: [new Uint8Array([7])] })
  await waitFor(() => b.received.some((e) => e.message.kind === 'updates'), { message: 'updates never arrived' })
  assert.deepEqual(a.received, [], 'a heard its own messages')
  assert.ok(b.fanout.status().lagMs !== null, 'lag is measured from received messages')
  // An instance that says goodbye is gone for the others at once.
  await a.fanout.close()
  await waitFor(() => b.gone.includes('a'), { timeoutMs: 2000, message: 'b never heard a leave' })
})

test('2. after a Redis restart: the subscriber resumes (catch-up), subscriptions are back, messages flow', async (t) => {
  const s = await setup(t)
  if (!s) return
  const a = s.instance('a')
  const b = s.instance('b')
  await b.fanout.subscribe('doc', (e) => b.received.push(e))
  await s.connected(a.fanout, b.fanout)
  await s.heard(a, b, 1)
  assert.deepEqual(b.resumed, [])

  await s.redis.stop()
  await waitFor(() => !a.fanout.status().connected && !b.fanout.status().connected, { message: 'nobody noticed redis stop' })
  a.fanout.publish('doc', awareness(2)) // dropped: nobody can hear it
  await s.redis.start()
  await s.connected(a.fanout, b.fanout)
  await waitFor(() => b.resumed.length > 0, { message: 'b did not resume after redis came back' })
  await s.heard(a, b, 3)
  assert.equal(
    b.received.some((e) => e.message.kind === 'awareness' && e.message.update[0] === 2),
    false,
    'a message published during the outage was queued and delivered late',
  )
})

test('3. publishes dropped while an instance could not publish make the others catch up once it can', async (t) => {
  const s = await setup(t)
  if (!s) return
  // No regular heartbeat during the test: only what the drop itself causes is seen.
  const a = s.instance('a', { heartbeatMs: 600_000 })
  const b = s.instance('b')
  await b.fanout.subscribe('doc', (e) => b.received.push(e))
  await s.connected(a.fanout, b.fanout)
  await s.heard(a, b, 1)

  // Cut the publishing connections only (subscribers are of type pubsub): b keeps hearing, so
  // nothing on b's side says that anything was missed.
  const admin = new Redis(s.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  s.cleanup.add(() => admin.disconnect())
  await admin.connect()
  await admin.client('KILL', 'TYPE', 'normal')
  await waitFor(() => !a.fanout.status().connected, { message: 'a never noticed its publisher was cut' })
  a.fanout.publish('doc', awareness(2)) // an update stored on a but never fanned out
  await s.connected(a.fanout)
  await waitFor(() => b.resumed.length > 0, {
    timeoutMs: 3000,
    message: 'b was never told that a dropped messages: it would miss them until its next periodic catch-up',
  })
  assert.deepEqual(b.gone, [])
})

test('4. an outage longer than goneAfterMs does not make live instances gone', async (t) => {
  const s = await setup(t)
  if (!s) return
  const GONE_AFTER_MS = 500
  // a never beats during the test (it speaks only when told to); b checks for silence often.
  const a = s.instance('a', { heartbeatMs: 600_000 })
  const b = s.instance('b', { heartbeatMs: 10, goneAfterMs: GONE_AFTER_MS })
  await b.fanout.subscribe('doc', (e) => b.received.push(e))
  await s.connected(a.fanout, b.fanout)
  await s.heard(a, b, 1)

  await s.redis.stop()
  await waitFor(() => !b.fanout.status().connected, { message: 'b never noticed' })
  // The silence this test is about: longer than goneAfterMs, while nobody can hear anybody.
  const stopped = performance.now()
  await waitFor(() => performance.now() - stopped > 2 * GONE_AFTER_MS, { message: 'time stood still' })
  assert.deepEqual(b.gone, [], 'silence while b could not hear counted against a')
  await s.redis.start()
  await s.connected(a.fanout, b.fanout)
  // b checks every 10 ms; a speaks again well within goneAfterMs of b's return.
  const back = performance.now()
  await waitFor(() => performance.now() - back > GONE_AFTER_MS / 4, { message: 'time stood still' })
  await s.heard(a, b, 2)
  assert.deepEqual(b.gone, [], 'a live instance was declared gone: its presence vanished on b')
})

test('5. a subscription asked for while the subscriber is still in its handshake is kept, and so is the instances channel', async (t) => {
  const s = await setup(t)
  if (!s) return
  const b = s.instance('b')
  // The window is the few hundred microseconds between TCP connect and the ready check's answer,
  // when a room loads for a client that connected at start-up: too narrow to hit from outside,
  // so the test waits for ioredis's own 'connect' event.
  const sub = (b.fanout as unknown as { sub: Redis }).sub
  await new Promise<void>((resolve) =>
    sub.once('connect', () => {
      void b.fanout.subscribe('doc', (e) => b.received.push(e))
      resolve()
    }),
  )
  await s.connected(b.fanout)
  const a = s.instance('a')
  await s.connected(a.fanout)
  await s.heard(a, b, 1)
  // The instances channel (subscribed at construction) works too: a's goodbye is heard.
  await a.fanout.close()
  await waitFor(() => b.gone.includes('a'), { timeoutMs: 2000, message: 'b is deaf to the instances channel' })
})
