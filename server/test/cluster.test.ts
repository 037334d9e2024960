/**
 * Scale-out: several real Tandem processes (server/src/main.ts) sharing one Postgres schema and
 * one Redis prefix, with stock y-websocket clients spread over them. Two people on different
 * instances must see each other exactly as if they were on one: the same text, presence both
 * ways, and nothing lost when an instance is killed (its clients come back through a load
 * balancer) or when Redis goes away for a while (the store heals what it dropped).
 *
 * Needs Postgres and Redis (services.ts): skipped loudly without them, failed under CI.
 */
import assert from 'node:assert/strict'
import type { WebSocket } from 'ws'
import type { Env } from '../src/config.js'
import { Cleanup } from './helpers/cleanup.js'
import { converged, stockClient, type StockClient } from './helpers/clients.js'
import { apiText, health, spawnCluster, type ClusterInstance } from './helpers/cluster.js'
import { TcpProxy } from './helpers/proxy.js'
import { seededRng, type Rng } from './helpers/random.js'
import { RedisServer, redisServerBinary } from './helpers/redis-server.js'
import { childEnv, runToExit, type ScriptRun } from './helpers/server.js'
import { needs } from './helpers/services.js'
import { keepTyping, tokenProblems, tokensOf, Typist } from './helpers/typists.js'
import { turns, waitFor, within } from './helpers/wait.js'
import { test, type TestContext } from './helpers/test.js'

/** Runs main.ts with `env` until it exits by itself. */
function runMain(cleanup: Cleanup, env: Env): Promise<ScriptRun> {
  const defaults = { PORT: '0', HOST: '127.0.0.1', DATA_DIR: cleanup.tempDir(), DATABASE_URL: '', REDIS_URL: '' }
  return runToExit(cleanup, 'server/src/main.ts', [], childEnv({ ...defaults, ...env }))
}

/** The awareness state `client` holds for the client with id `clientID`, if any. */
const stateOf = (client: StockClient, clientID: number) => client.provider.awareness.getStates().get(clientID)

/**
 * Ends the client's connection without a goodbye (no awareness removal from the client, no close
 * frame), as a closed laptop lid or a dropped network does, and keeps it from reconnecting.
 */
function dropConnection(client: StockClient): void {
  client.provider.shouldConnect = false
  ;(client.provider.ws as unknown as WebSocket).terminate()
}

/** A random insert (a short word, sometimes a token) or delete at a random place. */
function randomEdit(client: StockClient, rng: Rng, label: string, n: number): void {
  const length = client.text.length
  const at = rng.int(length + 1)
  if (at < length && rng.float() < 0.3) client.text.delete(at, 1 + rng.int(Math.min(4, length - at)))
  else client.text.insert(at, rng.float() < 0.5 ? `<${label}.${n}>` : rng.word(4))
}

test('1. start-up refuses a half-configured cluster, naming the variable', async (t) => {
  const cleanup = new Cleanup(t)
  const [redisAlone, badScheme, badRedis] = await Promise.all([
    runMain(cleanup, { REDIS_URL: 'redis://127.0.0.1:6379' }),
    runMain(cleanup, { DATABASE_URL: 'mysql://root@127.0.0.1:3306/tandem' }),
    runMain(cleanup, { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', REDIS_URL: 'http://127.0.0.1:6379' }),
  ])
  for (const [what, run, variable] of [
    ['REDIS_URL with SQLite', redisAlone, 'REDIS_URL'],
    ['a mysql:// DATABASE_URL', badScheme, 'DATABASE_URL'],
    ['an http:// REDIS_URL', badRedis, 'REDIS_URL'],
  ] as const) {
    assert.ok(run.code !== 0 && run.code !== null, `${what}: exit code ${run.code}; stderr:\n${run.stderr}`)
    assert.match(run.stderr, new RegExp(`invalid configuration: ${variable}\\b`), `${what}: stderr does not name ${variable}`)
    assert.doesNotMatch(run.stdout, /listening/, `${what}: it started anyway`)
  }
  assert.match(redisAlone.stderr, /needs DATABASE_URL/, 'the message says what is missing')
  assert.doesNotMatch(badScheme.stderr, /root@/, 'the URL (which may hold a password) was echoed')
})

/**
 * `clients` stock clients spread round-robin over `instances` instances type seeded random
 * inserts and deletes at once; all converge, every instance serves the same text, a late joiner
 * on each instance gets it; presence set on instance 1 shows on the others and leaves with its
 * client. Returns the cluster for further checks.
 */
async function convergence(t: TestContext, instances: number, clients: number) {
  if (!(await needs(t, ['postgres', 'redis']))) return null
  const cleanup = new Cleanup(t)
  const rng = seededRng(t)
  const cluster = await spawnCluster(cleanup, instances)
  const name = `converge-${instances}`
  const people: Array<{ client: StockClient; on: ClusterInstance }> = []
  for (let i = 0; i < clients; i++) {
    const on = cluster.instances[i % instances]!
    people.push({ client: await stockClient(cleanup, on.wsUrl, name), on })
  }
  const EDITS = 40
  const made = people.map(() => 0)
  for (let step = 0; step < EDITS * clients; step++) {
    const who = rng.int(clients)
    randomEdit(people[who]!.client, rng, `c${who}`, made[who]!++)
    // Let messages in and out between some edits, so edits cross in flight.
    if (rng.float() < 0.3) await turns(1 + rng.int(3))
  }
  const texts = await converged(
    people.map((p) => p.client),
    { timeoutMs: 15_000 },
  )
  const text = texts[0]!
  t.diagnostic(`${clients} clients on ${instances} instances converged on ${text.length} characters`)
  assert.ok(text.length > 0)
  for (const instance of cluster.instances) {
    let served: string | null = null
    await waitFor(async () => (served = await apiText(instance, name)) === text, {
      message: () => `${instance.id} serves ${JSON.stringify(served)}, clients hold ${JSON.stringify(text)}`,
    })
  }
  for (const instance of cluster.instances) {
    const late = await stockClient(cleanup, instance.wsUrl, name)
    assert.equal(late.text.toString(), text, `a late joiner on ${instance.id}`)
    late.destroy()
  }

  // Presence: set on a client of instance 1, seen by a client of every other instance...
  const speaker = people[0]!.client
  const id = speaker.doc.clientID
  speaker.provider.awareness.setLocalStateField('user', { name: 'Ada', color: '#c33' })
  const listeners = people.slice(1, instances).map((p) => p.client)
  await waitFor(() => listeners.every((l) => (stateOf(l, id) as { user?: { name: string } } | undefined)?.user?.name === 'Ada'), {
    message: 'Ada’s presence did not reach every instance',
  })
  // ...and gone from all of them soon after her connection drops without a goodbye.
  const dropped = performance.now()
  dropConnection(speaker)
  await waitFor(() => listeners.every((l) => stateOf(l, id) === undefined), {
    timeoutMs: 5000,
    message: 'Ada’s presence outlived her connection on another instance',
  })
  t.diagnostic(`presence removed across instances ${Math.round(performance.now() - dropped)} ms after the drop`)
  return cluster
}

test('2. two instances: clients converge, presence crosses; /healthz and /metrics report store and redis', async (t) => {
  const cluster = await convergence(t, 2, 4)
  if (!cluster) return
  for (const instance of cluster.instances) {
    const { status, body } = await health(instance)
    assert.equal(status, 200)
    assert.deepEqual(
      { ok: body.ok, instance: body.instance, store: body.store, redis: body.redis },
      { ok: true, instance: instance.id, store: 'ok', redis: 'ok' },
    )
    const res = await fetch(`${instance.httpUrl}/metrics`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const metrics = await res.text()
    const label = `{instance="${instance.id}"}`
    for (const line of [`tandem_redis_up${label} 1`, `tandem_store_up${label} 1`, `tandem_rooms${label} 1`]) {
      assert.ok(metrics.split('\n').includes(line), `${instance.id}: no line ${line} in\n${metrics}`)
    }
    for (const metric of ['tandem_redis_lag_seconds', 'tandem_connections', 'tandem_messages_in_total', 'tandem_messages_out_total', 'tandem_store_append_seconds_total']) {
      assert.match(metrics, new RegExp(`^# TYPE ${metric} (gauge|counter)$`, 'm'), `${instance.id}: ${metric} has no TYPE line`)
      assert.match(metrics, new RegExp(`^${metric}\\{instance="${instance.id}"\\} [0-9.e+-]+$`, 'm'), `${instance.id}: no ${metric} sample`)
    }
  }
})

test('3. three instances: six clients converge, presence crosses to both others', async (t) => {
  await convergence(t, 3, 6)
})

test('4. kill -9 of an instance mid-edit: its clients come back through the balancer; nothing anyone had is lost', async (t) => {
  if (!(await needs(t, ['postgres', 'redis']))) return
  const cleanup = new Cleanup(t)
  const rng = seededRng(t)
  const cluster = await spawnCluster(cleanup, 2)
  const [doomed, survivor] = cluster.instances as [ClusterInstance, ClusterInstance]
  const proxy = await TcpProxy.start(cleanup, [doomed.port, survivor.port], 'round-robin')
  const name = 'kill'
  const typists: Typist[] = []
  for (let i = 0; i < 4; i++) typists.push(new Typist(await stockClient(cleanup, proxy.wsUrl, name), `c${i}`, rng))
  assert.deepEqual(proxy.routed, [doomed.port, survivor.port, doomed.port, survivor.port], 'clients spread over both instances')
  const clients = typists.map((ty) => ty.client)

  const typing = keepTyping(typists, rng)
  cleanup.add(() => typing.stop())
  // Typing well under way, and edits crossing between instances.
  await waitFor(
    () =>
      typists.every((ty) => ty.typed.length >= 15) &&
      tokensOf(clients[1]!.text.toString()).some((tok) => tok.startsWith('<c0.')) &&
      tokensOf(clients[0]!.text.toString()).some((tok) => tok.startsWith('<c1.')),
    { message: 'typing never got going across instances' },
  )
  // What every client holds at the instant of the kill (synchronously: nothing runs in between).
  const heldAtKill = clients.map((c) => c.text.toString())
  const typedBefore = typists.map((ty) => ty.typed.length)
  doomed.child.kill('SIGKILL')
  const exit = await within(doomed.exited, { message: 'the killed instance did not exit' })
  assert.equal(exit.signal, 'SIGKILL')

  // Its clients lose their sockets, reconnect through the proxy, which skips the dead instance;
  // everyone keeps typing meanwhile.
  await waitFor(
    () =>
      clients[0]!.closeCodes.length > 0 &&
      clients[2]!.closeCodes.length > 0 &&
      clients.every((c) => c.provider.wsconnected && c.provider.synced) &&
      typists.every((ty, i) => ty.typed.length >= typedBefore[i]! + 15),
    { timeoutMs: 15_000, message: () => `clients did not all come back: ${clients.map((c) => `${c.provider.wsconnected}/${c.provider.synced}`).join(' ')}` },
  )
  typing.stop()
  assert.deepEqual(proxy.routed.slice(4), proxy.routed.slice(4).map(() => survivor.port), 'reconnections went to the survivor')
  assert.ok(proxy.routed.length >= 6)

  const [text] = await converged(clients, { timeoutMs: 15_000 })
  const everything = typists.flatMap((ty) => ty.typed)
  t.diagnostic(`${everything.length} tokens typed, ${typedBefore.reduce((a, b) => a + b)} before the kill`)
  for (const [i, held] of heldAtKill.entries()) {
    assert.deepEqual(tokenProblems(text!, tokensOf(held)), [], `what client ${i} held at the kill is not all in the final text`)
  }
  assert.deepEqual(tokenProblems(text!, everything), [], 'something typed was lost or doubled')
  assert.equal(await apiText(survivor, name), text)
  const fresh = await stockClient(cleanup, proxy.wsUrl, name)
  assert.equal(fresh.text.toString(), text, 'a newcomer through the balancer')
})

test('5. Redis down for seconds mid-edit, then back: every room converges, nothing lost or doubled', async (t) => {
  if (!(await needs(t, ['postgres', 'redis-server']))) return
  const cleanup = new Cleanup(t)
  const rng = seededRng(t)
  const redis = await RedisServer.start(cleanup, redisServerBinary()!)
  // Periodic catch-up far beyond the test: only the catch-up on Redis's return can heal.
  const cluster = await spawnCluster(cleanup, 2, { redisUrl: redis.url, env: { CATCH_UP_MS: '60000', LOG_LEVEL: 'debug' } })
  const [one, two] = cluster.instances as [ClusterInstance, ClusterInstance]
  const rooms = ['outage-a', 'outage-b']
  const typists: Array<Typist & { on: ClusterInstance; room: string }> = []
  for (const room of rooms) {
    for (const [i, on] of [one, two, one, two].entries()) {
      const client = await stockClient(cleanup, on.wsUrl, room)
      typists.push(Object.assign(new Typist(client, `${room.at(-1)}${i}`, rng), { on, room }))
    }
  }
  const clientsOf = (room: string) => typists.filter((ty) => ty.room === room).map((ty) => ty.client)

  const typing = keepTyping(typists, rng)
  cleanup.add(() => typing.stop())
  await waitFor(() => typists.every((ty) => ty.typed.length >= 5), { message: 'typing never got going' })

  await redis.stop('SIGKILL')
  const outage = performance.now()
  const stoppedAt = typists.map((ty) => ty.typed.length)
  for (const instance of [one, two]) {
    await waitFor(async () => (await health(instance)).body.redis === 'down', { message: `${instance.id} never said redis is down` })
    const { status, body } = await health(instance)
    assert.equal(status, 200, 'an instance without Redis still serves (it degrades, it is not down)')
    assert.equal(body.store, 'ok')
    const metrics = await (await fetch(`${instance.httpUrl}/metrics`)).text()
    assert.ok(metrics.includes(`tandem_redis_up{instance="${instance.id}"} 0`), `${instance.id} metrics:\n${metrics}`)
  }
  // From here on nothing can cross (a catch-up set off by the last messages before the outage
  // has read the store by now): each instance's clients see only their own instance.
  const partitionedAt = typists.map((ty) => ty.typed.length)
  await waitFor(() => typists.every((ty, i) => ty.typed.length >= stoppedAt[i]! + 120), {
    timeoutMs: 20_000,
    message: 'typing stalled during the outage',
  })
  for (const ty of typists) {
    const other = typists.find((o) => o.room === ty.room && o.on !== ty.on)!
    const crossed = other.typed.slice(partitionedAt[typists.indexOf(other)]!).filter((tok) => ty.client.text.toString().includes(tok))
    assert.deepEqual(crossed, [], `${ty.label} saw edits from another instance while Redis was down: the test proves nothing`)
  }

  await redis.start()
  t.diagnostic(
    `redis was down ${Math.round(performance.now() - outage)} ms; ${typists.reduce((n, ty, i) => n + ty.typed.length - stoppedAt[i]!, 0)} tokens typed meanwhile`,
  )
  for (const instance of [one, two]) {
    await waitFor(async () => (await health(instance)).body.redis === 'ok', { message: `${instance.id} never reconnected to redis` })
  }
  typing.stop()
  for (const room of rooms) {
    const clients = clientsOf(room)
    const [text] = await converged(clients, { timeoutMs: 15_000 }).catch(async (err: Error) => {
      // Which side lacks what: the instances' own rooms, or only their clients?
      const typed = typists.filter((ty) => ty.room === room).flatMap((ty) => ty.typed)
      const served = await Promise.all([one, two].map(async (i) => `${i.id}: ${tokenProblems((await apiText(i, room)) ?? '', typed).join(', ')}`))
      const logs = [one, two].map((i) => `--- ${i.id}\n` + i.stderr().split('\n').filter((l) => !/ECONNREFUSED|connection (opened|closed)/.test(l)).join('\n'))
      throw new Error(`${err.message}\n${room}, missing per instance:\n${served.join('\n')}\n${logs.join('\n')}`)
    })
    const typed = typists.filter((ty) => ty.room === room).flatMap((ty) => ty.typed)
    assert.deepEqual(tokenProblems(text!, typed), [], `${room}: something typed was lost or doubled`)
    for (const instance of [one, two]) assert.equal(await apiText(instance, room), text, `${room} on ${instance.id}`)
  }
})

test('6. an instance that dies takes its clients’ presence with it within seconds, not awareness’s 30', async (t) => {
  if (!(await needs(t, ['postgres', 'redis']))) return
  const cleanup = new Cleanup(t)
  const cluster = await spawnCluster(cleanup, 2)
  const [doomed, survivor] = cluster.instances as [ClusterInstance, ClusterInstance]
  const ada = await stockClient(cleanup, doomed.wsUrl, 'presence')
  const bob = await stockClient(cleanup, survivor.wsUrl, 'presence')
  ada.provider.awareness.setLocalStateField('user', { name: 'Ada' })
  await waitFor(() => stateOf(bob, ada.doc.clientID) !== undefined, { message: 'Ada’s presence never reached Bob' })

  doomed.child.kill('SIGKILL')
  const killed = performance.now()
  await waitFor(() => stateOf(bob, ada.doc.clientID) === undefined, {
    timeoutMs: 10_000,
    message: 'Ada’s presence stayed on the surviving instance for 10 s after hers died',
  })
  const ms = Math.round(performance.now() - killed)
  t.diagnostic(`presence of the dead instance's client removed after ${ms} ms`)
  assert.ok(bob.provider.wsconnected, 'Bob stayed connected throughout')
})

test('7. a client joining on another instance sees the presence already there at once, not at its next renewal', async (t) => {
  if (!(await needs(t, ['postgres', 'redis']))) return
  const cleanup = new Cleanup(t)
  const cluster = await spawnCluster(cleanup, 2)
  const [first, second] = cluster.instances as [ClusterInstance, ClusterInstance]
  const ada = await stockClient(cleanup, first.wsUrl, 'late')
  const carol = await stockClient(cleanup, first.wsUrl, 'late')
  ada.provider.awareness.setLocalStateField('user', { name: 'Ada' })
  // Carol sees Ada: the first instance holds Ada's presence. Stock clients renew theirs only
  // every 15 s, so nothing from Ada's client is expected again within this test's deadline.
  await waitFor(() => stateOf(carol, ada.doc.clientID) !== undefined, { message: 'Ada’s presence never reached Carol' })
  const joined = performance.now()
  const bob = await stockClient(cleanup, second.wsUrl, 'late')
  await waitFor(() => stateOf(bob, ada.doc.clientID) !== undefined, {
    timeoutMs: 5_000,
    message: 'Bob, on the other instance, did not see Ada within 5 s of joining',
  })
  t.diagnostic(`Ada's presence reached Bob ${Math.round(performance.now() - joined)} ms after he started joining`)
})
