// Backscatter page (/backscatter?query=): bounces of mail someone else sent in our name, grouped by
// the server that really sent the bounced mail (from the bounce's quoted Received headers) and by
// the forged sender. The search box narrows the bounces with the ordinary search syntax.
import { api } from './api.js'
import { clear, formatCount, formatFullDate, h, printable, term } from './dom.js'

const searchLink = (query, label, attrs = {}) =>
  h('a', { href: `/search?${new URLSearchParams({ q: query })}`, 'data-route': true, class: 'search-link', title: `Search ${query}`, ...attrs }, label)

/** The search for one originating server's bounces (origin: matches the bounced mail's first hop). */
export function originSearch(g) {
  return g.Key && g.Key !== 'unknown' ? `origin:${g.Key}` : 'kind:bounce'
}

/** The forged sender receives the bounces, so its bounces are kind:bounce to:<sender>. */
function senderSearch(g) {
  return g.Key && g.Key !== 'unknown' ? `kind:bounce ${term('to', g.Key)}` : 'kind:bounce'
}

function groupTable(groups, { keyLabel, hostLabel, search }) {
  if (!groups.length) return h('p', { class: 'muted empty-group' }, 'No bounces match.')
  return h(
    'div',
    { class: 'table-scroll' },
    h(
      'table',
      { class: 'group-table' },
      h(
        'thead',
        null,
        h('tr', null, [keyLabel, hostLabel, 'Bounces', 'First seen', 'Last seen', 'Sample subjects'].map((c, i) => h('th', { scope: 'col', class: i === 2 ? 'num' : null }, c))),
      ),
      h(
        'tbody',
        null,
        groups.map((g) =>
          h(
            'tr',
            { dataset: { key: g.Key } },
            h('td', { class: 'key' }, searchLink(search(g), printable(g.Key || 'unknown'))),
            h('td', { class: 'host' }, printable(g.Host || '')),
            h('td', { class: 'num count' }, formatCount(g.Count)),
            h('td', { class: 'date' }, formatFullDate(g.FirstSeen)),
            h('td', { class: 'date' }, formatFullDate(g.LastSeen)),
            h('td', { class: 'subjects' }, h('ul', { class: 'plain' }, (g.Subjects ?? []).map((s) => h('li', null, printable(s || '(no subject)'))))),
          ),
        ),
      ),
    ),
  )
}

export function createBackscatterView(root, app) {
  let seq = 0
  const input = h('input', { type: 'search', name: 'query', maxlength: 4096, placeholder: 'Narrow the bounces: to: subject: after: words …', 'aria-label': 'Narrow the bounces', autocomplete: 'off', spellcheck: 'false' })
  const form = h(
    'form',
    {
      class: 'inline-form backscatter-search',
      role: 'search',
      on: {
        submit: (e) => {
          e.preventDefault()
          app.navigate(urlFor(input.value.trim()))
        },
      },
    },
    input,
    h('button', { type: 'submit', class: 'tool primary' }, 'Narrow'),
  )
  const body = h('div', { class: 'backscatter-body' })

  const urlFor = (query) => '/backscatter' + (query ? `?${new URLSearchParams({ query })}` : '')

  async function show(query) {
    root.hidden = false
    document.title = query ? `${query} – backscatter – holdmail` : 'Backscatter – holdmail'
    if (document.activeElement !== input) input.value = query
    if (!root.firstChild) {
      clear(
        root,
        h('div', { class: 'page-head' }, h('h1', null, 'Backscatter')),
        h('p', { class: 'muted intro' }, 'Bounces of mail that others sent in a forged name, grouped by the server that really sent it and by the forged sender.'),
        form,
        body,
      )
    }
    const mine = ++seq
    clear(body, h('p', { class: 'muted' }, 'Loading…'))
    let r
    try {
      r = await api.backscatter(query, 100)
    } catch (err) {
      if (mine === seq) clear(body, h('div', { class: 'banner error', role: 'alert' }, err.message))
      return
    }
    if (mine !== seq || root.hidden) return
    clear(
      body,
      h('p', { class: 'bounce-total' }, h('strong', null, formatCount(r.Bounces)), r.Bounces === 1 ? ' bounce' : ' bounces', query ? ' match' : '', ' · ', searchLink(query ? `kind:bounce ${query}` : 'kind:bounce', 'list them')),
      h('section', { class: 'card by-origin', 'aria-label': 'By originating server' },
        h('h2', null, 'By originating server'),
        groupTable(r.ByOrigin ?? [], {
          keyLabel: 'Origin IP',
          hostLabel: 'Host',
          search: originSearch,
        }),
      ),
      h('section', { class: 'card by-sender', 'aria-label': 'By forged sender' },
        h('h2', null, 'By forged sender'),
        groupTable(r.BySender ?? [], { keyLabel: 'Forged sender', hostLabel: 'From header', search: senderSearch }),
      ),
    )
  }

  function hide() {
    root.hidden = true
    seq++
  }

  return { show, hide }
}
