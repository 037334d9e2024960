/**
 * `npm run token -- --doc NAME --role viewer --ttl 24h [--name "Ada"] [--url http://host:1234]`
 * prints a token signed with AUTH_SECRET (from the environment) and the link that opens the
 * document with it.
 */
import { parseArgs } from 'node:util'
import { createAuth, parseTtl } from '../server/src/auth.js'

const usage = 'usage: npm run token -- --doc NAME [--role editor|viewer] [--ttl 24h] [--name NAME] [--url http://localhost:1234]'

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

const { values } = parseArgs({
  options: {
    doc: { type: 'string' },
    role: { type: 'string', default: 'editor' },
    ttl: { type: 'string', default: '24h' },
    name: { type: 'string' },
    url: { type: 'string', default: `http://localhost:${process.env.PORT || '1234'}` },
  },
})

const secret = process.env.AUTH_SECRET
if (!secret || secret.length < 32) fail('AUTH_SECRET must be set (32+ characters), the same as the server uses')
if (!values.doc) fail('--doc is required: a document name, a prefix ending in *, or *')
if (values.role !== 'editor' && values.role !== 'viewer') fail('--role must be editor or viewer')
const ttlSeconds = parseTtl(values.ttl!)
if (ttlSeconds === null) fail(`--ttl must look like 90s, 30m, 24h or 7d, got ${values.ttl}`)

const token = await createAuth({ secret, publicKeyPem: null }).mint({
  doc: values.doc,
  role: values.role,
  ttlSeconds,
  ...(values.name ? { name: values.name } : {}),
})
process.stdout.write(`token: ${token}\n`)
// A pattern (prefix* or *) opens no single document: print the link form for the caller to fill.
const doc = values.doc.endsWith('*') ? '<document>' : encodeURIComponent(values.doc)
process.stdout.write(`link:  ${values.url.replace(/\/$/, '')}/d/${doc}?token=${token}\n`)
