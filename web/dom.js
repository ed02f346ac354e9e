// DOM building without innerHTML: every string from a message (subject, names, filenames, header
// values) is sample data and may carry markup, so it only ever becomes a text node or an attribute.

/**
 * h('div', { class: 'x', on: { click: fn } }, 'text', child, [more])
 * Attributes go through setAttribute (never on* handlers from data); children that are strings
 * become text nodes.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue
      if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn)
      } else if (k === 'dataset') {
        Object.assign(el.dataset, v)
      } else if (k === 'href') {
        el.setAttribute('href', safeHref(String(v)))
      } else if (k.startsWith('on')) {
        throw new Error('inline handlers are not allowed: ' + k)
      } else {
        el.setAttribute(k, v === true ? '' : String(v))
      }
    }
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else if (c instanceof Node) el.appendChild(c)
    else el.appendChild(document.createTextNode(String(c)))
  }
}

/** Links we build are same-origin paths; anything else (javascript:, data:) is refused. */
function safeHref(href) {
  return href.startsWith('/') && !href.startsWith('//') ? href : '#'
}

export function clear(el, ...children) {
  el.replaceChildren()
  append(el, children)
  return el
}

export function formatSize(bytes) {
  if (bytes < 1000) return `${bytes} B`
  if (bytes < 1000 * 1000) return `${(bytes / 1000).toFixed(bytes < 10_000 ? 1 : 0)} kB`
  if (bytes < 1000 * 1000 * 1000) return `${(bytes / 1e6).toFixed(1)} MB`
  return `${(bytes / 1e9).toFixed(2)} GB`
}

const pad = (n) => String(n).padStart(2, '0')

/** Today: "14:03"; this year: "Mar 4 14:03"; otherwise "2024-03-04". Full time goes in a title. */
export function formatShortDate(iso) {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  const now = new Date()
  if (d.toDateString() === now.toDateString()) return `${pad(d.getHours())}:${pad(d.getMinutes())}`
  if (d.getFullYear() === now.getFullYear()) {
    return `${d.toLocaleString(undefined, { month: 'short' })} ${d.getDate()} ${pad(d.getHours())}:${pad(d.getMinutes())}`
  }
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

export function formatFullDate(iso) {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return String(iso)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

export const formatCount = (n) => Number(n).toLocaleString()

/** "Name <addr>" or just the address; "<>" for the null sender. */
export function formatAddress(a) {
  if (!a) return ''
  if (a.Name && a.Address) return `${a.Name} <${a.Address}>`
  return a.Name || a.Address || ''
}

/** A search term for a value: quoted (with \" and \\ escaped) when it has spaces or quotes. */
export function term(field, value) {
  const v = String(value)
  const bare = v !== '' && !/[\s"\\]/.test(v)
  return `${field}:${bare ? v : '"' + v.replace(/["\\]/g, (c) => '\\' + c) + '"'}`
}

/** Visible text for values that may carry control characters (NUL, ESC) from hostile mail. */
export function printable(s) {
  // eslint-disable-next-line no-control-regex -- matching control characters is this regex's purpose
  return String(s).replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

const SVG_NS = 'http://www.w3.org/2000/svg'
// 24x24 stroke icons, drawn here so that the UI loads nothing but its own files.
const ICONS = {
  paperclip: 'M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9',
  back: 'M15 18l-6-6 6-6',
  up: 'M18 15l-6-6-6 6',
  down: 'M6 9l6 6 6-6',
  first: 'M17 18l-6-6 6-6M7 6v12',
  last: 'M7 18l6-6-6-6M17 6v12',
  prev: 'M15 18l-6-6 6-6',
  next: 'M9 18l6-6-6-6',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  tag: 'M20.6 13.4l-7.2 7.2a2 2 0 0 1-2.8 0L3 13V3h10l7.6 7.6a2 2 0 0 1 0 2.8zM7.5 7.5h.01',
  download: 'M12 3v12M7 10l5 5 5-5M5 21h14',
  copy: 'M9 9h11v11H9zM5 15H4V4h11v1',
  mail: 'M3 5h18v14H3zM3 6l9 7 9-7',
  mailopen: 'M3 10l9-6 9 6v10H3zM3 10l9 6 9-6',
  flag: 'M5 21V4M5 4h12l-2.5 4.5L17 13H5',
  search: 'M11 18a7 7 0 1 1 0-14 7 7 0 0 1 0 14zM21 21l-5-5',
}

export function icon(name, label) {
  const svg = document.createElementNS(SVG_NS, 'svg')
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('class', 'icon')
  svg.setAttribute('aria-hidden', label ? 'false' : 'true')
  if (label) {
    svg.setAttribute('role', 'img')
    const title = document.createElementNS(SVG_NS, 'title')
    title.textContent = label
    svg.appendChild(title)
  }
  const path = document.createElementNS(SVG_NS, 'path')
  path.setAttribute('d', ICONS[name] ?? '')
  svg.appendChild(path)
  return svg
}
