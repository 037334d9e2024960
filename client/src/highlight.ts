/**
 * Markdown highlighting. Colours are CSS variables (see style.css), so one style serves both
 * themes and switching theme needs no editor reconfiguration for them.
 */
import { HighlightStyle } from '@codemirror/language'
import { tags as t } from '@lezer/highlight'

export const markdownHighlight = HighlightStyle.define([
  { tag: t.heading1, fontSize: '1.35em', fontWeight: '700', color: 'var(--md-heading)' },
  { tag: t.heading2, fontSize: '1.2em', fontWeight: '700', color: 'var(--md-heading)' },
  { tag: t.heading3, fontSize: '1.08em', fontWeight: '700', color: 'var(--md-heading)' },
  { tag: [t.heading4, t.heading5, t.heading6, t.heading], fontWeight: '700', color: 'var(--md-heading)' },
  { tag: t.emphasis, fontStyle: 'italic' },
  { tag: t.strong, fontWeight: '700' },
  { tag: t.strikethrough, textDecoration: 'line-through' },
  { tag: t.link, color: 'var(--md-link)' },
  { tag: t.url, color: 'var(--md-url)', textDecoration: 'underline' },
  { tag: t.monospace, fontFamily: 'var(--font-mono)', color: 'var(--md-code)' },
  { tag: t.quote, color: 'var(--md-quote)', fontStyle: 'italic' },
  { tag: [t.processingInstruction, t.contentSeparator], color: 'var(--md-mark)' },
  { tag: [t.labelName, t.string, t.atom], color: 'var(--md-label)' },
  { tag: [t.escape, t.character], color: 'var(--md-mark)' },
  // Inline HTML, which markdown allows.
  { tag: t.comment, color: 'var(--text-muted)', fontStyle: 'italic' },
  { tag: [t.tagName, t.angleBracket], color: 'var(--md-link)' },
  { tag: t.attributeName, color: 'var(--md-label)' },
  { tag: t.attributeValue, color: 'var(--md-code)' },
])
