import { compile } from 'html-to-text'

// HTML bodies are converted to text for the Text field, the snippet and the full-text index of
// mail that has no text/plain part (as Mailpit does). html-to-text is what mailparser itself uses
// for single-part HTML; compiled once, with no line wrapping (the text is searched and flattened
// into a snippet, not displayed at a width), links kept as "text [url]", images left out.

// Past this size the conversion is not worth the CPU (the index keeps 64 KiB of text anyway).
export const MAX_HTML_TO_TEXT_CHARS = 2 * 1024 * 1024
// Nesting depth html-to-text walks; deeper markup (hostile mail) is cut off rather than recursed.
const MAX_DEPTH = 256

const convert = compile({
  wordwrap: false,
  limits: { maxDepth: MAX_DEPTH, maxInputLength: MAX_HTML_TO_TEXT_CHARS },
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true, ignoreHref: false } },
    { selector: 'img', format: 'skip' },
    // headings as written: the default upper-cases them, which is not what the sender wrote
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
  ],
})

/** The readable text of an HTML body; '' when it cannot be converted (never throws). */
export function htmlToText(html: string): string {
  if (!html) return ''
  try {
    return convert(html.length > MAX_HTML_TO_TEXT_CHARS ? html.slice(0, MAX_HTML_TO_TEXT_CHARS) : html)
  } catch {
    return ''
  }
}
