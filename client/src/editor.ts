/**
 * The CodeMirror 6 editor bound to the shared Y.Text. Undo and redo are the Y.UndoManager's
 * (per person: only your own edits), so CodeMirror's own history is deliberately absent.
 */
import { defaultKeymap } from '@codemirror/commands'
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search'
import { markdown, markdownLanguage } from '@codemirror/lang-markdown'
import { syntaxHighlighting } from '@codemirror/language'
import { Compartment, EditorState, Prec } from '@codemirror/state'
import {
  drawSelection,
  dropCursor,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from '@codemirror/view'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import type * as Y from 'yjs'
import type { Collab } from './collab.js'
import { markdownHighlight } from './highlight.js'
import { freshCaretNames } from './remote-carets.js'
import { currentTheme, observeTheme, type Theme } from './theme.js'

/**
 * Mod-Shift-z must redo however the key arrives. CodeMirror reads Shift from the character for
 * letter keys, so a synthetic event with key 'z' and shiftKey set (Playwright's 'Control+Shift+z')
 * would otherwise match Mod-z and undo.
 */
function redoOnShiftZ(undoManager: Y.UndoManager) {
  return Prec.highest(
    EditorView.domEventHandlers({
      keydown(event) {
        const mod = event.ctrlKey || event.metaKey
        if (!mod || !event.shiftKey || event.altKey || event.key.toLowerCase() !== 'z') return false
        event.preventDefault()
        undoManager.redo()
        return true
      },
    }),
  )
}

const editorTheme = EditorView.theme({
  // A page-like column: long lines stay readable on wide screens.
  '&': { height: '100%', maxWidth: '60rem', margin: '0 auto', color: 'var(--text)', backgroundColor: 'var(--editor-bg)' },
  '&.cm-focused': { outline: 'none' },
  '.cm-scroller': { fontFamily: 'var(--font-editor)', lineHeight: '1.65' },
  // Room above the first line for a remote caret's name label.
  '.cm-content': { padding: '1.6rem 0 40vh', caretColor: 'var(--text)' },
  '.cm-line': { padding: '0 1.25rem 0 0.75rem' },
  '.cm-gutters': { backgroundColor: 'var(--editor-bg)', color: 'var(--text-faint)', border: 'none' },
  '.cm-lineNumbers .cm-gutterElement': { padding: '0 0.5rem 0 1rem', minWidth: '2.5rem' },
  '.cm-activeLine': { backgroundColor: 'var(--active-line)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--active-line)', color: 'var(--text-muted)' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--text)', borderLeftWidth: '2px' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection':
    { backgroundColor: 'var(--selection)' },
  // y-codemirror.next shows a remote caret's name only on hover; we want it readable at a
  // glance. Scoped under `&` so these rules outrank its base theme.
  '& .cm-ySelectionCaret .cm-ySelectionInfo': {
    opacity: '1',
    top: '-1.55em',
    left: '-2px',
    padding: '1px 6px',
    borderRadius: '4px 4px 4px 0',
    fontFamily: 'var(--font-ui)',
    fontSize: '11px',
    fontWeight: '600',
    lineHeight: '1.45',
    letterSpacing: '0.01em',
    color: '#fff',
    pointerEvents: 'none',
    boxShadow: '0 1px 2px rgb(0 0 0 / 0.2)',
  },
  '& .cm-ySelectionCaret .cm-ySelectionCaretDot': { display: 'none' },
  '& .cm-ySelectionCaret': { borderLeftWidth: '2px', borderRightWidth: '0', marginLeft: '-1px', marginRight: '-1px' },
})

/** Whether the person may type: a compartment, so access lost mid-visit can take it away. */
const editing = new Compartment()

function editingExtensions(editable: boolean, undoManager: Y.UndoManager) {
  if (editable) return [keymap.of(yUndoManagerKeymap), redoOnShiftZ(undoManager)]
  return [
    // readOnly stops every command and input path that checks it (paste, drop, cut, keys);
    // editable=false also leaves the browser nothing to type into. Undo is left out: the
    // Y.UndoManager writes to the Y.Text directly, past both.
    EditorState.readOnly.of(true),
    EditorView.editable.of(false),
    // Still focusable, so a reader can put a caret or select text, which others see.
    EditorView.contentAttributes.of({ tabindex: '0' }),
  ]
}

/** Allows or stops typing in `view` (a viewer's link, or access that expired). */
export function setEditable(view: EditorView, collab: Collab, editable: boolean): void {
  view.dispatch({ effects: editing.reconfigure(editingExtensions(editable, collab.undoManager)) })
}

export function createEditor(parent: HTMLElement, collab: Collab, options: { editable: boolean }): EditorView {
  const dark = new Compartment()
  const darkFor = (theme: Theme) => EditorView.darkTheme.of(theme === 'dark')
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: collab.text.toString(),
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        drawSelection(),
        dropCursor(),
        highlightActiveLine(),
        EditorView.lineWrapping,
        markdown({ base: markdownLanguage }),
        syntaxHighlighting(markdownHighlight),
        highlightSelectionMatches(),
        // No historyKeymap: undo is yUndoManagerKeymap's (in `editing`), bound before the
        // defaults so it wins.
        editing.of(editingExtensions(options.editable, collab.undoManager)),
        keymap.of([...searchKeymap, ...defaultKeymap]),
        yCollab(collab.text, collab.awareness, { undoManager: collab.undoManager }),
        freshCaretNames(collab.awareness, collab.text),
        editorTheme,
        dark.of(darkFor(currentTheme())),
        EditorView.contentAttributes.of({ 'aria-label': `Document ${collab.name}` }),
      ],
    }),
  })
  observeTheme((theme) => view.dispatch({ effects: dark.reconfigure(darkFor(theme)) }))
  return view
}
