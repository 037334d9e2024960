/** Random, readable names for people ("Anonymous Otter") and new documents ("calm-river-42"). */
const adjectives = [
  'amber', 'bold', 'brave', 'bright', 'calm', 'clever', 'cosy', 'crisp', 'eager', 'fancy',
  'gentle', 'golden', 'happy', 'jolly', 'keen', 'lively', 'lucky', 'mellow', 'merry', 'misty',
  'nimble', 'proud', 'quiet', 'rapid', 'rosy', 'shiny', 'silver', 'sunny', 'swift', 'witty',
]

const animals = [
  'Badger', 'Beaver', 'Bison', 'Crane', 'Dolphin', 'Falcon', 'Fox', 'Gecko', 'Heron', 'Ibis',
  'Koala', 'Lemur', 'Lynx', 'Marten', 'Moose', 'Narwhal', 'Ocelot', 'Otter', 'Owl', 'Panda',
  'Puffin', 'Quokka', 'Raven', 'Seal', 'Sparrow', 'Stoat', 'Tapir', 'Turtle', 'Walrus', 'Wombat',
]

const nouns = [
  'brook', 'canyon', 'cedar', 'cloud', 'comet', 'delta', 'dune', 'ember', 'fern', 'fjord',
  'grove', 'harbor', 'island', 'lagoon', 'meadow', 'mesa', 'moon', 'orchard', 'pebble', 'pine',
  'prairie', 'reef', 'river', 'summit', 'tide', 'valley', 'willow', 'wave', 'meteor', 'forest',
]

function pick<T>(items: readonly T[]): T {
  const [n] = crypto.getRandomValues(new Uint32Array(1))
  return items[(n ?? 0) % items.length] as T
}

export function randomUserName(): string {
  return `Anonymous ${pick(animals)}`
}

export function randomDocName(): string {
  const [n] = crypto.getRandomValues(new Uint32Array(1))
  return `${pick(adjectives)}-${pick(nouns)}-${((n ?? 0) % 900) + 100}`
}
