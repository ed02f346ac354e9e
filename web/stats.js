// Stats page (/stats): traffic charts, top senders and networks, auth results, kinds, backscatter
// sources and an SPF lint box. Charts are SVG built with DOM calls; every value from mail (domains,
// IPs, hostnames, subjects) goes into text nodes or attributes only.
import { api } from './api.js'
import { originSearch } from './backscatter.js'
import { clear, formatCount, formatFullDate, h, printable, term } from './dom.js'

const SVG_NS = 'http://www.w3.org/2000/svg'
const HOUR = 3_600_000
const DAY = 86_400_000
const AUTH_RESULTS = new Set(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy', 'not-evaluated'])
const RESULT_CLASS = { pass: 'good', fail: 'bad', softfail: 'warn', permerror: 'bad', temperror: 'warn', neutral: 'meh', none: 'meh', policy: 'warn' }
const KINDS = new Set(['message', 'bounce', 'arf', 'autoreply'])

/** A same-origin link to a message search; app.js routes it client-side. */
export const searchLink = (query, label, attrs = {}) =>
  h('a', { href: `/search?${new URLSearchParams({ q: query })}`, 'data-route': true, class: 'search-link', title: `Search ${query}`, ...attrs }, label)

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag)
  for (const [k, v] of Object.entries(attrs ?? {})) el.setAttribute(k, String(v))
  return el
}

/**
 * A bar chart: one bar per bucket, scaled to the largest. The SVG stretches to its box (the bars
 * carry no text, so distortion is harmless); labels and the scale are HTML around it.
 */
function barChart(buckets, { label, first, last }) {
  const max = Math.max(1, ...buckets.map((b) => b.count))
  const total = buckets.reduce((n, b) => n + b.count, 0)
  const W = 10
  const H = 100
  const chart = svg('svg', { viewBox: `0 0 ${buckets.length * W} ${H}`, preserveAspectRatio: 'none', class: 'chart', role: 'img', 'aria-label': `${label}: ${formatCount(total)} in total, at most ${formatCount(max)}` })
  for (const line of [0.5, 1]) chart.appendChild(svg('line', { x1: 0, x2: buckets.length * W, y1: H - H * line, y2: H - H * line, class: 'grid' }))
  buckets.forEach((b, i) => {
    const bh = b.count ? Math.max(1.5, (b.count / max) * H) : 0
    const rect = svg('rect', { x: i * W + 1, y: H - bh, width: W - 2, height: bh, class: 'bar' })
    rect.dataset.count = String(b.count)
    const title = svg('title')
    title.textContent = `${b.label}: ${formatCount(b.count)}`
    rect.appendChild(title)
    chart.appendChild(rect)
  })
  return h(
    'figure',
    { class: 'chart-box' },
    h('figcaption', null, h('span', null, label), h('span', { class: 'muted' }, `${formatCount(total)} total · max ${formatCount(max)}`)),
    chart,
    h('div', { class: 'chart-axis muted' }, h('span', null, first), h('span', null, last)),
  )
}

const pad = (n) => String(n).padStart(2, '0')

/** 48 hourly buckets ending with the current hour (the API leaves out empty ones). */
function hourBuckets(perHour, now = Date.now()) {
  const counts = new Map(perHour.map((p) => [Date.parse(p.Hour), p.Count]))
  const end = Math.floor(now / HOUR) * HOUR
  const out = []
  for (let t = end - 47 * HOUR; t <= end; t += HOUR) {
    const d = new Date(t)
    out.push({ t, count: counts.get(t) ?? 0, label: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:00` })
  }
  return out
}

/** 30 daily (UTC) buckets ending today. */
function dayBuckets(perDay, now = Date.now()) {
  const counts = new Map(perDay.map((p) => [p.Day, p.Count]))
  const end = Math.floor(now / DAY) * DAY
  const out = []
  for (let t = end - 29 * DAY; t <= end; t += DAY) {
    const day = new Date(t).toISOString().slice(0, 10)
    out.push({ t, count: counts.get(day) ?? 0, label: day })
  }
  return out
}

function card(title, cls, ...body) {
  return h('section', { class: `card ${cls}`, 'aria-label': title }, h('h2', null, title), ...body)
}

function countTable(rows, { keyLabel, query, empty = 'Nothing yet.' }) {
  if (!rows.length) return h('p', { class: 'muted' }, empty)
  const max = Math.max(1, ...rows.map((r) => r.Count))
  return h(
    'table',
    { class: 'count-table' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, keyLabel), h('th', { scope: 'col', class: 'num' }, 'Messages'))),
    h(
      'tbody',
      null,
      rows.map((r) => {
        const q = query(r.Key)
        const label = printable(r.Key || '(none)')
        return h('tr', null, h('td', { class: 'key' }, q ? searchLink(q, label) : label), h('td', { class: 'num' }, countCell(r.Count, max)))
      }),
    ),
  )
}

function countCell(count, max) {
  const fill = h('span', { class: 'fill' })
  fill.style.setProperty('width', `${Math.round((count / max) * 100)}%`)
  return h('span', { class: 'num-cell' }, h('span', { class: 'meter', 'aria-hidden': 'true' }, fill), h('span', { class: 'n' }, formatCount(count)))
}

/** Horizontal bars for a result → count map; each label searches for that result. */
function distribution(dist, field, canSearch) {
  const entries = Object.entries(dist ?? {}).sort((a, b) => b[1] - a[1])
  if (!entries.length) return h('p', { class: 'muted' }, 'No results yet.')
  const total = entries.reduce((n, [, c]) => n + c, 0)
  return h(
    'ul',
    { class: `dist dist-${field}` },
    entries.map(([key, count]) => {
      const fill = h('span', { class: `fill ${RESULT_CLASS[key] ?? 'meh'}` })
      fill.style.setProperty('width', `${Math.max(1, Math.round((count / total) * 100))}%`)
      const label = printable(key)
      return h(
        'li',
        { dataset: { key } },
        h('span', { class: 'dist-label' }, canSearch(key) ? searchLink(`${field}:${key}`, label) : label),
        h('span', { class: 'meter', 'aria-hidden': 'true' }, fill),
        h('span', { class: 'n' }, formatCount(count), h('span', { class: 'muted' }, ` ${Math.round((count / total) * 100)}%`)),
      )
    }),
  )
}

function backscatterTable(groups) {
  if (!groups.length) return h('p', { class: 'muted' }, 'No bounces yet.')
  return h(
    'table',
    { class: 'count-table backscatter-top' },
    h('thead', null, h('tr', null, ['Origin IP', 'Host', 'Bounces', 'Last seen'].map((c, i) => h('th', { scope: 'col', class: i === 2 ? 'num' : null }, c)))),
    h(
      'tbody',
      null,
      groups.map((g) =>
        h(
          'tr',
          null,
          h('td', { class: 'key' }, searchLink(originSearch(g), printable(g.Key))),
          h('td', { class: 'host' }, printable(g.Host || '')),
          h('td', { class: 'num' }, formatCount(g.Count)),
          h('td', { class: 'date' }, formatFullDate(g.LastSeen)),
        ),
      ),
    ),
  )
}

function spfLintBox() {
  const input = h('input', { type: 'text', name: 'target', required: true, maxlength: 4096, placeholder: 'example.com or v=spf1 …', 'aria-label': 'Domain or SPF record', autocomplete: 'off', spellcheck: 'false' })
  const out = h('div', { class: 'spf-result', 'aria-live': 'polite' })
  let seq = 0
  const form = h(
    'form',
    {
      class: 'inline-form',
      on: {
        submit: async (e) => {
          e.preventDefault()
          const target = input.value.trim()
          if (!target) return
          const mine = ++seq
          clear(out, h('p', { class: 'muted' }, 'Checking…'))
          try {
            const r = await api.spfLint(target)
            if (mine !== seq) return
            clear(out, spfResult(r))
          } catch (err) {
            if (mine !== seq) return
            clear(out, h('div', { class: 'banner error', role: 'alert' }, err.message))
          }
        },
      },
    },
    input,
    h('button', { type: 'submit', class: 'tool primary' }, 'Lint'),
  )
  return [form, out]
}

function spfResult(r) {
  const problems = Array.isArray(r.Problems) ? r.Problems : []
  return [
    h(
      'dl',
      { class: 'spf-facts' },
      r.Domain ? [h('dt', null, 'Domain'), h('dd', null, printable(r.Domain))] : null,
      h('dt', null, 'Record'),
      h('dd', null, h('code', null, printable(r.Record || '(none)'))),
      h('dt', null, 'DNS lookups'),
      h('dd', { class: r.Lookups > 10 ? 'bad' : null }, `${r.Lookups} of 10`),
      h('dt', null, 'Void lookups'),
      h('dd', { class: r.VoidLookups > 2 ? 'bad' : null }, `${r.VoidLookups} of 2`),
    ),
    problems.length
      ? h(
          'ul',
          { class: 'spf-problems' },
          problems.map((p) =>
            h(
              'li',
              { class: `sev-${String(p.Severity).replace(/[^a-z]/gi, '')}` },
              h('span', { class: `result ${p.Severity === 'error' ? 'bad' : p.Severity === 'warning' ? 'warn' : 'meh'}` }, printable(p.Severity)),
              p.Term ? [' ', h('code', null, printable(p.Term))] : null,
              ' ',
              printable(p.Message),
            ),
          ),
        )
      : h('p', { class: 'spf-ok' }, h('span', { class: 'result good' }, 'ok'), ' No problems found.'),
  ]
}

export function createStatsView(root) {
  let seq = 0
  let lint = null // kept across refreshes so a typed domain and its result survive

  async function show() {
    root.hidden = false
    document.title = 'Stats – holdmail'
    const mine = ++seq
    if (!root.firstChild) clear(root, h('p', { class: 'muted loading' }, 'Loading stats…'))
    let s
    try {
      s = await api.stats()
    } catch (err) {
      if (mine === seq) clear(root, h('div', { class: 'banner error', role: 'alert' }, err.message))
      return
    }
    if (mine !== seq || root.hidden) return
    render(s)
  }

  function render(s) {
    lint ??= spfLintBox()
    const hours = hourBuckets(s.PerHour ?? [])
    const days = dayBuckets(s.PerDay ?? [])
    const kinds = Object.entries(s.Kinds ?? {}).sort((a, b) => b[1] - a[1])
    clear(
      root,
      h('div', { class: 'page-head' }, h('h1', null, 'Stats'), h('button', { type: 'button', class: 'tool refresh', on: { click: () => show() } }, 'Refresh')),
      h(
        'div',
        { class: 'stats-grid' },
        card('Messages per hour', 'wide per-hour', barChart(hours, { label: 'Last 48 hours', first: hours[0].label, last: 'now' })),
        card('Messages per day', 'wide per-day', barChart(days, { label: 'Last 30 days (UTC)', first: days[0].label, last: days[days.length - 1].label })),
        card(
          'Message kinds',
          'kinds',
          kinds.length
            ? h(
                'ul',
                { class: 'kind-list' },
                kinds.map(([k, n]) =>
                  h('li', { dataset: { kind: k } }, KINDS.has(k) ? searchLink(term('kind', k), k, { class: `search-link badge kind kind-${k}` }) : h('span', { class: 'badge kind' }, printable(k)), h('span', { class: 'n' }, formatCount(n))),
                ),
              )
            : h('p', { class: 'muted' }, 'No messages yet.'),
        ),
        card(
          'Authentication',
          'auth',
          ['SPF', 'DKIM', 'DMARC'].map((f) => [h('h3', null, f), distribution(s.Auth?.[f], f.toLowerCase(), (k) => AUTH_RESULTS.has(k))]),
        ),
        card('Top sender domains', 'top-domains', countTable(s.TopSenderDomains ?? [], { keyLabel: 'MAIL FROM domain', query: (k) => (k === '<>' ? 'mailfrom:<>' : k ? term('mailfrom', k) : null) })),
        card('Top client IPs', 'top-ips', countTable(s.TopClientIPs ?? [], { keyLabel: 'Client IP', query: (k) => (k ? term('ip', k) : null) })),
        card('Top /24 networks', 'top-nets', countTable(s.TopNets24 ?? [], { keyLabel: 'Network', query: (k) => (k ? term('ip', k) : null) })),
        card(
          'Top backscatter sources',
          'top-backscatter',
          backscatterTable(s.TopBackscatterSources ?? []),
          h('p', { class: 'more' }, h('a', { href: '/backscatter', 'data-route': true }, 'All backscatter →')),
        ),
        card('SPF lint', 'spf-lint', h('p', { class: 'muted' }, 'Check a domain’s SPF record, or paste a literal record.'), lint),
      ),
    )
  }

  function hide() {
    root.hidden = true
    seq++
  }

  return { show, hide }
}
