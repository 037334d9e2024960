/**
 * Rate limits. A connection's budget is a pair of token buckets (messages and bytes) that may go
 * into debt: a sender over budget is first slowed (the socket stops being read until the debt
 * is paid), and only one that runs far ahead is cut off. People typing or pasting stay far below.
 */

/** What every budget built from the same options shares: the rates and the bursts. */
interface Rates {
  readonly messagesPerSecond: number
  readonly bytesPerSecond: number
  readonly messageBurst: number
  readonly byteBurst: number
}

type RateOptions = { messagesPerSecond: number; bytesPerSecond: number; maxMessageBytes: number }

// Every connection builds its budget from the same options object: its rates are computed once
// and shared, so a budget holds only its own three numbers (memory per idle connection).
const sharedRates = new WeakMap<RateOptions, Rates>()

function ratesFor(options: RateOptions): Rates {
  let rates = sharedRates.get(options)
  if (!rates) {
    rates = Object.freeze({
      messagesPerSecond: options.messagesPerSecond,
      bytesPerSecond: options.bytesPerSecond,
      messageBurst: options.messagesPerSecond * 10,
      byteBurst: Math.max(options.bytesPerSecond * 10, options.maxMessageBytes * 2),
    })
    sharedRates.set(options, rates)
  }
  return rates
}

export class RateBudget {
  private messages: number
  private bytes: number
  private last: number
  private readonly rates: Rates

  /** Bursts: 10 s of messages, and at least two maximum-size messages of bytes. */
  constructor(options: RateOptions, now = performance.now()) {
    this.rates = ratesFor(options)
    this.messages = this.rates.messageBurst
    this.bytes = this.rates.byteBurst
    this.last = now
  }

  /**
   * Charges one message of `size` bytes. Returns how many seconds the sender is ahead of its
   * budget (0 when within it): the caller pauses reading that long, or closes past a limit.
   */
  charge(size: number, now = performance.now()): number {
    return this.spend(1, size, now)
  }

  /**
   * Charges `count` frames that are not messages of their own (the fragments of a message before
   * its last, control frames): each costs what a message costs, so splitting a message into
   * many pieces buys nothing. Their bytes are charged with the message they belong to.
   */
  chargeFrames(count: number, now = performance.now()): number {
    return this.spend(count, 0, now)
  }

  private spend(messages: number, size: number, now: number): number {
    const { messagesPerSecond, bytesPerSecond, messageBurst, byteBurst } = this.rates
    const elapsed = (now - this.last) / 1000
    this.last = now
    this.messages = Math.min(messageBurst, this.messages + elapsed * messagesPerSecond) - messages
    this.bytes = Math.min(byteBurst, this.bytes + elapsed * bytesPerSecond) - size
    return Math.max(0, -this.messages / messagesPerSecond, -this.bytes / bytesPerSecond)
  }
}

/**
 * The most frames one message may arrive in; past it `ws` closes the connection with 1008.
 * Browsers split a large message into pieces of many KiB; this allows pieces of 1 KiB on average
 * at the largest message (4096 at 4 MiB). It bounds what a message trickled in within the rate
 * budget costs to hold: `ws` keeps every piece as a Buffer until the message is whole.
 */
export function maxFragments(maxMessageBytes: number): number {
  return Math.max(64, Math.ceil(maxMessageBytes / 1024))
}

/**
 * An address's connects in the last minute: their start times, oldest first, from `head` on.
 * Expired times are skipped by moving `head`, and cut off once they are half the array, so an
 * admission costs the same however many connects the window holds (a limit raised for many
 * clients behind one address, or a benchmark's thousands from 127.0.0.1).
 */
interface ConnectWindow {
  times: number[]
  head: number
}

/** Concurrent connections and new connections per minute, per client address. */
export class AddressLimits {
  private readonly open = new Map<string, number>()
  private readonly recent = new Map<string, ConnectWindow>()
  private readonly maxOpen: number
  private readonly maxPerMinute: number

  constructor(options: { maxConnectionsPerIp: number; maxConnectsPerMinutePerIp: number }) {
    this.maxOpen = options.maxConnectionsPerIp
    this.maxPerMinute = options.maxConnectsPerMinutePerIp
  }

  /** Null when admitted (and counted: call release() when it ends); otherwise why not. */
  admit(address: string, now = Date.now()): string | null {
    const open = this.open.get(address) ?? 0
    if (open >= this.maxOpen) return `more than ${this.maxOpen} connections from this address`
    let window = this.recent.get(address)
    if (window === undefined) this.recent.set(address, (window = { times: [], head: 0 }))
    if (inWindow(window, now) >= this.maxPerMinute) return `more than ${this.maxPerMinute} new connections a minute from this address`
    window.times.push(now)
    this.open.set(address, open + 1)
    return null
  }

  release(address: string): void {
    const open = (this.open.get(address) ?? 1) - 1
    if (open <= 0) this.open.delete(address)
    else this.open.set(address, open)
  }

  /** Forgets minute windows that have passed, so the map does not grow without end. */
  sweep(now = Date.now()): void {
    for (const [address, window] of this.recent) if (inWindow(window, now) === 0) this.recent.delete(address)
  }
}

/**
 * Drops the connects that left the minute and returns how many are left. Times are in the order
 * they were admitted; should the clock step back, a later time can sit behind an earlier one
 * and leave the window late, which errs towards refusing.
 */
function inWindow(window: ConnectWindow, now: number): number {
  const { times } = window
  while (window.head < times.length && now - times[window.head]! >= 60_000) window.head++
  if (window.head > 64 && window.head * 2 > times.length) {
    times.splice(0, window.head)
    window.head = 0
  }
  return times.length - window.head
}
