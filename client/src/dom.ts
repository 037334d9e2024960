/** A tiny element builder: enough to keep view code declarative without a framework. */
export type Attrs = Record<string, string | boolean | undefined>
export type Child = Node | string | null | undefined | false

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    el.setAttribute(key, value === true ? '' : value)
  }
  for (const child of children) {
    // Strings become text nodes, never markup: names and document titles are user input.
    if (child !== null && child !== undefined && child !== false) el.append(child)
  }
  return el
}

/** Shows `message` in `button` for a moment, then restores its label. */
export function flash(button: HTMLElement, message: string, ms = 1600): void {
  const label = button.dataset.label ?? button.textContent ?? ''
  button.dataset.label = label
  button.textContent = message
  window.clearTimeout(Number(button.dataset.flashTimer))
  button.dataset.flashTimer = String(
    window.setTimeout(() => {
      button.textContent = label
      delete button.dataset.flashTimer
    }, ms),
  )
}
