// Counts the remote resources a message's HTML would load (images, styles, fonts, media), so the
// UI can say how many the CSP blocked. DOMParser builds an inert document: no scripts run and no
// resources load in a document without a browsing context, so parsing hostile HTML here is safe.

const REMOTE = /^\s*(?:https?:)?\/\//i
const CSS_URL = /url\(\s*(['"]?)(.*?)\1\s*\)/gi
const CSS_IMPORT = /@import\s+(['"])(.*?)\1/gi

function cssRemote(css) {
  let n = 0
  for (const m of css.matchAll(CSS_URL)) if (REMOTE.test(m[2])) n++
  for (const m of css.matchAll(CSS_IMPORT)) if (REMOTE.test(m[2])) n++
  return n
}

/** Remote references in the HTML, one per URL a browser would fetch. */
export function countRemote(html) {
  if (!html) return 0
  const doc = new DOMParser().parseFromString(html, 'text/html')
  let n = 0
  for (const el of doc.querySelectorAll('*')) {
    const tag = el.localName
    for (const name of ['src', 'background', 'poster', 'data', 'dynsrc', 'lowsrc']) {
      const v = el.getAttribute(name)
      if (v && REMOTE.test(v)) n++
    }
    for (const name of ['srcset', 'imagesrcset']) {
      const v = el.getAttribute(name)
      if (v) for (const candidate of v.split(',')) if (REMOTE.test(candidate)) n++
    }
    // Links load only as stylesheets/icons/preloads; <a href> waits for a click.
    if (tag === 'link') {
      const v = el.getAttribute('href')
      if (v && REMOTE.test(v)) n++
    }
    if (tag === 'image' || tag === 'use' || tag === 'feimage') {
      const v = el.getAttribute('href') ?? el.getAttributeNS('http://www.w3.org/1999/xlink', 'href')
      if (v && REMOTE.test(v)) n++
    }
    const style = el.getAttribute('style')
    if (style) n += cssRemote(style)
    if (tag === 'style') n += cssRemote(el.textContent ?? '')
  }
  return n
}
