/** "Copy link": the way to invite someone is to send them this page's address. */
import { flash, h } from './dom.js'

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    // The async clipboard needs a secure context (https or localhost) and permission; the old
    // selection-based copy works on plain http too.
    const area = h('textarea', { readonly: true, 'aria-hidden': 'true', class: 'offscreen' })
    area.value = text
    document.body.append(area)
    area.select()
    try {
      return document.execCommand('copy')
    } catch {
      return false
    } finally {
      area.remove()
    }
  }
}

export function copyLinkButton(): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'button', 'data-testid': 'copy-link' }, 'Copy link')
  button.addEventListener('click', async () => {
    const ok = await copyText(location.href)
    flash(button, ok ? 'Copied!' : 'Copy failed')
  })
  return button
}
