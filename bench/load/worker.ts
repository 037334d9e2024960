/**
 * Entry of a load process: the clients of one scenario run, separate from the server's process.
 * It runs the steps the harness sends over IPC and exits on its own after a hard lifetime.
 */
import { Load } from './roles.js'

export interface StepRequest {
  readonly id: number
  readonly step: string
  readonly args: unknown
}
export type StepReply = { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly error: string }

const lifetimeMs = Number(process.env.BENCH_LOAD_LIFETIME_MS || '600000')
setTimeout(() => {
  process.stderr.write(`load process: lifetime of ${lifetimeMs} ms over; exiting\n`)
  process.exit(3)
}, lifetimeMs).unref()

// Thousands of providers each add an exit listener.
process.setMaxListeners(0)
// A socket error surfaces through the provider; an unexpected one must not kill the run silently.
process.on('uncaughtException', (err) => process.stderr.write(`load process: uncaught ${err.stack ?? err}\n`))
process.on('unhandledRejection', (err) => process.stderr.write(`load process: unhandled ${(err as Error)?.stack ?? err}\n`))

const load = new Load({ echo: process.env.BENCH_LOAD_ECHO === '1' })
const steps = load as unknown as Record<string, (args: unknown) => Promise<unknown> | unknown>

process.on('message', (raw: unknown) => {
  const req = raw as StepRequest
  const fn = steps[req.step]
  const reply = (r: StepReply) => process.send?.(r)
  if (typeof fn !== 'function') return reply({ id: req.id, ok: false, error: `unknown step ${req.step}` })
  Promise.resolve()
    .then(() => fn.call(load, req.args))
    .then(
      (result) => reply({ id: req.id, ok: true, result: result ?? null }),
      (err: Error) => reply({ id: req.id, ok: false, error: err?.message ?? String(err) }),
    )
})
process.on('disconnect', () => process.exit(0))
