/**
 * Keeps remote carets' name labels current. y-codemirror.next compares its caret widgets by
 * colour only, so when a collaborator renames themself CodeMirror keeps the old widget DOM, old
 * name included. Until that is fixed upstream, relabel drawn carets from awareness on each change.
 */
import { ViewPlugin, type EditorView } from '@codemirror/view'
import type { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'

interface RemoteCaret {
  readonly index: number
  readonly name: string
  readonly color: string
}

interface CursorState {
  user?: { name?: unknown; color?: unknown }
  cursor?: { head?: unknown } | null
}

/** The browser's canonical spelling of a CSS colour, so '#E11D48' and 'rgb(225, 29, 72)' match. */
function canonicalColor(color: string): string {
  const probe = document.createElement('span')
  probe.style.color = color
  return probe.style.color
}

function remoteCarets(awareness: Awareness, text: Y.Text): RemoteCaret[] {
  const doc = text.doc
  if (!doc) return []
  const carets: RemoteCaret[] = []
  awareness.getStates().forEach((state: CursorState, clientId) => {
    const head = state.cursor?.head
    if (clientId === awareness.clientID || !head || typeof state.user?.name !== 'string') return
    const position = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(head), doc)
    if (position?.type !== text) return
    carets.push({ index: position.index, name: state.user.name, color: canonicalColor(String(state.user.color)) })
  })
  return carets
}

function relabel(view: EditorView, carets: readonly RemoteCaret[]): void {
  for (const caret of view.contentDOM.querySelectorAll<HTMLElement>('.cm-ySelectionCaret')) {
    const info = caret.querySelector('.cm-ySelectionInfo')
    if (!info) continue
    const at = view.posAtDOM(caret)
    const candidates = carets.filter((c) => c.index === at)
    const match = candidates.find((c) => c.color === canonicalColor(caret.style.backgroundColor)) ?? (candidates.length === 1 ? candidates[0] : undefined)
    // Widget DOM is the widget's own: CodeMirror ignores mutations inside it.
    if (match && info.textContent !== match.name) info.textContent = match.name
  }
}

export function freshCaretNames(awareness: Awareness, text: Y.Text) {
  return ViewPlugin.define((view) => {
    const onChange = () =>
      // After y-codemirror.next has redrawn (it dispatches from its own 'change' listener).
      view.requestMeasure({ key: relabel, read: () => remoteCarets(awareness, text), write: (carets) => relabel(view, carets) })
    awareness.on('change', onChange)
    return { destroy: () => awareness.off('change', onChange) }
  })
}
