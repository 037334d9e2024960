/** Putting text on the clipboard, from a click, in every browser we support. */
import { h } from './dom.js'

/**
 * Copies `text`, which may still be on its way (a link the server is minting). Call it from the
 * click handler itself, before any await: Safari and Firefox allow a clipboard write only during
 * the click, so a pending text goes in as a promised ClipboardItem, which they accept.
 */
export async function copyText(text: string | Promise<string>): Promise<boolean> {
  try {
    if (typeof text !== 'string' && typeof ClipboardItem !== 'undefined') {
      const blob = text.then((t) => new Blob([t], { type: 'text/plain' }))
      // Its failure is reported below, through `text`; not as an unhandled rejection.
      blob.catch(() => {})
      await navigator.clipboard.write([new ClipboardItem({ 'text/plain': blob })])
    } else {
      await navigator.clipboard.writeText(await text)
    }
    return true
  } catch {
    // A text that failed to arrive is not a clipboard problem: nothing to fall back to.
    let resolved: string
    try {
      resolved = await text
    } catch {
      return false
    }
    return copyBySelection(resolved)
  }
}

/**
 * The async clipboard needs a secure context (https or localhost) and permission; the old
 * selection-based copy works on plain http too.
 */
function copyBySelection(text: string): boolean {
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
