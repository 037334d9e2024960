/**
 * Who is here. Each person has a name and a colour (random at first, editable, remembered in
 * localStorage) published in awareness as `user: { name, color, colorLight }`, the shape
 * y-codemirror.next reads to draw remote carets; and a list of everyone online.
 */
import type { Awareness } from 'y-protocols/awareness'
import { h } from './dom.js'
import { readJson, writeJson } from './storage.js'
import { randomUserName } from './words.js'

export interface User {
  readonly name: string
  readonly color: string
}

const STORAGE_KEY = 'tandem:user'
const MAX_NAME_LENGTH = 40

/** Mid-tone colours: legible as white-on-colour labels and as tints in light and dark themes. */
const palette = ['#e11d48', '#ea580c', '#d97706', '#65a30d', '#059669', '#0891b2', '#2563eb', '#4f46e5', '#9333ea', '#c026d3']

const isHexColor = (value: unknown): value is string => typeof value === 'string' && /^#[0-9a-f]{6}$/i.test(value)

function randomColor(): string {
  const [n] = crypto.getRandomValues(new Uint32Array(1))
  return palette[(n ?? 0) % palette.length] ?? '#4f46e5'
}

/** The stored user, or a new random one (stored at once, so it stays the same across tabs). */
export function loadUser(): User {
  const user = storedUser() ?? { name: randomUserName(), color: randomColor() }
  writeJson(STORAGE_KEY, user)
  return user
}

function storedUser(): User | null {
  const stored = readJson(STORAGE_KEY) as Partial<User> | null
  if (typeof stored?.name !== 'string' || stored.name.trim() === '' || !isHexColor(stored.color)) return null
  return { name: stored.name, color: stored.color }
}

export function publishUser(awareness: Awareness, user: User): void {
  // `colorLight` tints remote selections; 0x33 alpha keeps text readable underneath.
  awareness.setLocalStateField('user', { name: user.name, color: user.color, colorLight: `${user.color}33` })
}

/**
 * Name and colour inputs that edit, store and publish the local user. A `linkName` (the name a
 * link's token assigns) is shown and published instead of the stored name, and cannot be edited
 * here; it is never stored, so the person's own name is still theirs on other links.
 */
export function userControls(awareness: Awareness, initial: User, linkName: string | null = null): HTMLElement {
  let user = initial
  const shown = (u: User): User => (linkName === null ? u : { ...u, name: linkName })
  const nameInput = h('input', {
    type: 'text',
    class: 'user-name',
    'data-testid': 'user-name',
    'aria-label': 'Your name',
    maxlength: String(MAX_NAME_LENGTH),
    autocomplete: 'nickname',
    spellcheck: 'false',
    value: shown(user).name,
    readonly: linkName !== null,
    title: linkName === null ? undefined : 'Your name comes from the link you opened',
  })
  const colorInput = h('input', {
    type: 'color',
    class: 'user-color',
    'data-testid': 'user-color',
    'aria-label': 'Your colour',
    value: user.color,
  })
  const update = (next: User) => {
    user = next
    writeJson(STORAGE_KEY, user)
    publishUser(awareness, shown(user))
  }
  nameInput.addEventListener('input', () => {
    if (linkName !== null) return
    const name = nameInput.value.trim()
    // An empty name is only a moment in the middle of retyping it; keep the last real one.
    if (name !== '') update({ ...user, name })
  })
  nameInput.addEventListener('change', () => {
    if (nameInput.value.trim() === '') nameInput.value = user.name
  })
  colorInput.addEventListener('input', () => {
    if (isHexColor(colorInput.value)) update({ ...user, color: colorInput.value })
  })
  // Another tab of this browser renamed us: same person, so follow along.
  window.addEventListener('storage', (event) => {
    const next = event.key === STORAGE_KEY ? storedUser() : null
    if (!next || (next.name === user.name && next.color === user.color)) return
    user = next
    if (document.activeElement !== nameInput) nameInput.value = shown(next).name
    colorInput.value = next.color
    publishUser(awareness, shown(user))
  })
  return h('div', { class: 'user-controls' }, colorInput, nameInput)
}

interface OnlineUser {
  readonly clientId: number
  readonly name: string
  readonly color: string
  readonly self: boolean
}

function onlineUsers(awareness: Awareness): OnlineUser[] {
  const users: OnlineUser[] = []
  for (const [clientId, state] of awareness.getStates()) {
    const user = (state as { user?: { name?: unknown; color?: unknown } }).user
    if (!user) continue
    users.push({
      clientId,
      name: typeof user.name === 'string' && user.name !== '' ? user.name : 'Anonymous',
      color: isHexColor(user.color) ? user.color : '#64748b',
      self: clientId === awareness.clientID,
    })
  }
  // Yourself first, then everyone else in a stable order.
  return users.sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name) || a.clientId - b.clientId)
}

export function onlineList(awareness: Awareness): HTMLElement {
  const list = h('ul', { class: 'online', 'data-testid': 'online', 'aria-label': 'Online now' })
  const render = () => {
    list.replaceChildren(
      ...onlineUsers(awareness).map((u) => {
        const dot = h('span', { class: 'online-dot', 'aria-hidden': 'true' })
        dot.style.backgroundColor = u.color
        return h(
          'li',
          { class: 'online-user', 'data-testid': 'online-user', 'data-self': u.self, title: u.name },
          dot,
          h('span', { class: 'online-name' }, u.name),
          u.self && h('span', { class: 'online-you' }, ' (you)'),
        )
      }),
    )
  }
  awareness.on('change', render)
  render()
  return list
}
