/**
 * Light and dark themes. `<html data-theme>` always holds the theme in effect (index.html sets it
 * before first paint); it follows the system until the person picks one with the toggle.
 */
import { h } from './dom.js'
import { readString, writeString } from './storage.js'

export type Theme = 'light' | 'dark'

const STORAGE_KEY = 'tandem:theme'
const systemDark = () => window.matchMedia('(prefers-color-scheme: dark)')

function storedTheme(): Theme | null {
  const value = readString(STORAGE_KEY)
  return value === 'light' || value === 'dark' ? value : null
}

export function currentTheme(): Theme {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light'
}

function apply(theme: Theme): void {
  document.documentElement.dataset.theme = theme
}

/** Applies the stored or system theme and keeps following the system while nothing is stored. */
export function initTheme(): void {
  apply(storedTheme() ?? (systemDark().matches ? 'dark' : 'light'))
  systemDark().addEventListener('change', (event) => {
    if (storedTheme() === null) apply(event.matches ? 'dark' : 'light')
  })
}

/** Calls `listener` whenever the theme in effect changes, whoever changed it. */
export function observeTheme(listener: (theme: Theme) => void): () => void {
  const observer = new MutationObserver(() => listener(currentTheme()))
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] })
  return () => observer.disconnect()
}

export function themeToggle(): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'icon-button', 'data-testid': 'theme-toggle' })
  const render = (theme: Theme) => {
    const next = theme === 'dark' ? 'light' : 'dark'
    button.textContent = theme === 'dark' ? '☀' : '☾'
    button.setAttribute('aria-label', `Switch to ${next} theme`)
    button.title = `Switch to ${next} theme`
  }
  render(currentTheme())
  observeTheme(render)
  button.addEventListener('click', () => {
    const next: Theme = currentTheme() === 'dark' ? 'light' : 'dark'
    writeString(STORAGE_KEY, next)
    apply(next)
  })
  return button
}
