/**
 * Clients that type unique tokens (`<c2.17>`: client 2's 17th edit), so a final text can be
 * checked token by token: everything that must have survived is there, and exactly once. Tokens
 * are inserted only between tokens, never inside one, so concurrent edits keep them whole.
 */
import type { StockClient } from './clients.js'
import type { Rng } from './random.js'

const TOKEN = /<[^<>]+>/g

export function tokensOf(text: string): string[] {
  return text.match(TOKEN) ?? []
}

export class Typist {
  readonly client: StockClient
  readonly label: string
  /** Every token this client typed, in order. */
  readonly typed: string[] = []
  private readonly rng: Rng

  constructor(client: StockClient, label: string, rng: Rng) {
    this.client = client
    this.label = label
    this.rng = rng
  }

  /** Inserts the next token at a random boundary between tokens of the client's current text. */
  type(): string {
    const text = this.client.text.toString()
    const boundaries = [0]
    for (let i = 0; i < text.length; i++) if (text[i] === '>') boundaries.push(i + 1)
    const token = `<${this.label}.${this.typed.length}>`
    this.client.text.insert(this.rng.pick(boundaries), token)
    this.typed.push(token)
    return token
  }
}

/**
 * Every few milliseconds, some of the typists type a token (who does is random): steady,
 * concurrent typing while the test does something else. Stops at teardown at the latest.
 */
export function keepTyping(typists: readonly Typist[], rng: Rng, everyMs = 10): { stop(): void } {
  const timer = setInterval(() => {
    for (const typist of typists) if (rng.float() < 0.5) typist.type()
  }, everyMs)
  return { stop: () => clearInterval(timer) }
}

/**
 * What is wrong with `text`, or [] when nothing is: it is made of tokens only, none twice, and
 * holds every one of `required`.
 */
export function tokenProblems(text: string, required: Iterable<string>): string[] {
  const problems: string[] = []
  const tokens = tokensOf(text)
  if (tokens.join('') !== text) problems.push('the text holds something other than whole tokens')
  const seen = new Set<string>()
  for (const token of tokens) {
    if (seen.has(token)) problems.push(`${token} appears more than once`)
    seen.add(token)
  }
  for (const token of required) if (!seen.has(token)) problems.push(`${token} is missing`)
  return problems
}
