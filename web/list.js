// The message list: one page at a time (start/limit) so a million messages cost one page of DOM;
// live arrivals over server-sent events; selection (rows, page, or every match) and bulk actions.
import { api, exportUrl } from './api.js'
import { confirmDialog, tagDialog, toast } from './dialogs.js'
import { clear, formatCount, formatFullDate, formatShortDate, formatSize, h, icon, printable, term } from './dom.js'

const PAGE_SIZES = [25, 50, 100, 200]
const REFRESH_THROTTLE_MS = 400
const MAX_TAG_ALL = 10_000 // tagging "all matching" collects IDs page by page; beyond this, narrow the search

export function createListView(root, app) {
  const state = {
    query: '',
    page: 0,
    limit: Number(localStorage.getItem('holdmail.pageSize')) || 50,
    data: null, // last API page
    selected: new Map(), // ID -> Tags, kept across pages
    allMatching: false,
    cursorId: null,
    newCount: 0,
    pendingNew: [],
    refreshTimer: 0,
    loading: false,
    error: '',
  }

  // ---- static structure -------------------------------------------------------------------
  const selectPage = h('input', { type: 'checkbox', class: 'select-page', 'aria-label': 'Select every message on this page' })
  const selInfo = h('span', { class: 'sel-info', 'aria-live': 'polite' })
  const btn = (label, iconName, onClick, extra = {}) =>
    h('button', { type: 'button', class: 'tool', title: label, on: { click: onClick }, ...extra }, icon(iconName), h('span', { class: 'label' }, label))
  const readBtn = btn('Mark read', 'mailopen', () => markRead(true))
  const unreadBtn = btn('Mark unread', 'mail', () => markRead(false))
  const tagBtn = btn('Tag', 'tag', () => tagSelection())
  const deleteBtn = btn('Delete', 'trash', () => deleteSelection(), { class: 'tool danger' })
  const exportMenu = h(
    'details',
    { class: 'menu export-menu' },
    h('summary', { class: 'tool', title: 'Export' }, icon('download'), h('span', { class: 'label export-label' }, 'Export')),
    h(
      'div',
      { class: 'menu-items', role: 'menu' },
      h('button', { type: 'button', role: 'menuitem', 'data-format': 'mbox', on: { click: () => doExport('mbox') } }, 'mbox (mboxrd)'),
      h('button', { type: 'button', role: 'menuitem', 'data-format': 'zip', on: { click: () => doExport('zip') } }, 'zip of .eml + manifest'),
    ),
  )
  const range = h('span', { class: 'range' })
  const pageSize = h(
    'select',
    { class: 'page-size', 'aria-label': 'Messages per page', on: { change: () => setPageSize(Number(pageSize.value)) } },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === state.limit }, `${n} / page`)),
  )
  const pager = (label, iconName, fn) => h('button', { type: 'button', class: 'pager', title: label, 'aria-label': label, on: { click: fn } }, icon(iconName))
  const firstBtn = pager('First page', 'first', () => goPage(0))
  const prevBtn = pager('Previous page', 'prev', () => goPage(state.page - 1))
  const nextBtn = pager('Next page', 'next', () => goPage(state.page + 1))
  const lastBtn = pager('Last page', 'last', () => goPage(lastPage()))

  const toolbar = h(
    'div',
    { class: 'toolbar', role: 'toolbar', 'aria-label': 'Message actions' },
    h('label', { class: 'check' }, selectPage),
    selInfo,
    h('div', { class: 'actions' }, readBtn, unreadBtn, tagBtn, deleteBtn, exportMenu),
    h('div', { class: 'paging' }, range, pageSize, firstBtn, prevBtn, nextBtn, lastBtn),
  )
  const allBanner = h('div', { class: 'banner', hidden: true })
  const newPill = h('button', { type: 'button', class: 'new-pill', hidden: true, on: { click: () => showNew() } })
  const errorBox = h('div', { class: 'banner error', role: 'alert', hidden: true })
  const header = h(
    'div',
    { class: 'row head', 'aria-hidden': 'true' },
    h('span'),
    h('span'),
    h('span', { class: 'c-date' }, 'Received'),
    h('span', { class: 'c-from' }, 'From'),
    h('span', { class: 'c-to' }, 'To'),
    h('span', { class: 'c-subject' }, 'Subject'),
    h('span', { class: 'c-att' }),
    h('span', { class: 'c-size' }, 'Size'),
    h('span', { class: 'c-ip' }, 'Client IP'),
  )
  // aria-busy until the latest request has been answered and drawn (screen readers wait for it;
  // so can a test, rather than reading the empty list drawn before the first answer).
  const list = h('div', { class: 'msglist', role: 'list', 'aria-label': 'Messages', 'aria-busy': 'true' })
  const empty = h('p', { class: 'empty', hidden: true })
  clear(root, toolbar, allBanner, errorBox, newPill, header, list, empty)

  selectPage.addEventListener('change', () => {
    const msgs = state.data?.messages ?? []
    state.allMatching = false
    for (const m of msgs) {
      if (selectPage.checked) state.selected.set(m.ID, m.Tags)
      else state.selected.delete(m.ID)
    }
    render()
  })
  document.addEventListener('click', (e) => {
    if (!exportMenu.contains(e.target)) exportMenu.open = false
  })

  // ---- data ---------------------------------------------------------------------------------
  const lastPage = () => Math.max(0, Math.ceil((state.data?.messages_count ?? 0) / state.limit) - 1)

  // Does not reject: a failed request is shown in the error box, so callers may start it and move on.
  async function load({ keepScroll = true } = {}) {
    state.loading = true
    const seq = (load.seq = (load.seq ?? 0) + 1)
    list.setAttribute('aria-busy', 'true')
    try {
      const data = await api.list(state.query, state.page * state.limit, state.limit)
      if (seq !== load.seq) return // a newer request won
      state.data = data
      state.error = ''
      // A page past the end (messages were deleted): go to the last real page.
      if (data.messages.length === 0 && state.page > 0 && data.messages_count > 0) {
        state.page = lastPage()
        return load({ keepScroll })
      }
    } catch (err) {
      if (seq !== load.seq) return
      state.error = err.message
      state.data = null
    } finally {
      state.loading = false
    }
    if (!keepScroll) window.scrollTo(0, 0)
    render()
    if (seq === load.seq) list.setAttribute('aria-busy', 'false')
    app.updateCounts(state.data)
  }

  function scheduleRefresh() {
    if (state.refreshTimer) return
    state.refreshTimer = setTimeout(() => {
      state.refreshTimer = 0
      if (!root.hidden) void load()
      else state.stale = true
    }, REFRESH_THROTTLE_MS)
  }

  // ---- rendering ----------------------------------------------------------------------------
  function render() {
    const data = state.data
    errorBox.hidden = !state.error
    errorBox.textContent = state.error ? `Search failed: ${state.error}` : ''
    const msgs = data?.messages ?? []
    const total = data?.messages_count ?? 0

    const rows = msgs.map(renderRow)
    list.replaceChildren(...rows)
    empty.hidden = msgs.length > 0 || Boolean(state.error)
    empty.textContent = state.query ? 'No messages match this search.' : 'No messages yet. Send some mail to the SMTP port.'

    const from = total ? state.page * state.limit + 1 : 0
    const to = state.page * state.limit + msgs.length
    range.textContent = total ? `${formatCount(from)}–${formatCount(to)} of ${formatCount(total)}` : '0 messages'
    firstBtn.disabled = prevBtn.disabled = state.page === 0
    nextBtn.disabled = lastBtn.disabled = state.page >= lastPage()

    const onPage = msgs.filter((m) => state.selected.has(m.ID)).length
    selectPage.checked = state.allMatching || (msgs.length > 0 && onPage === msgs.length)
    selectPage.indeterminate = !state.allMatching && onPage > 0 && onPage < msgs.length
    const count = selectionCount()
    selInfo.textContent = count ? `${formatCount(count)} selected` : ''
    for (const b of [readBtn, unreadBtn, tagBtn, deleteBtn]) b.disabled = count === 0
    exportMenu.querySelector('.export-label').textContent = count ? 'Export selection' : state.query ? 'Export search' : 'Export all'

    // Offer "all matching" once the whole page is selected and there is more than the page.
    clear(allBanner)
    allBanner.hidden = true
    if (state.allMatching) {
      allBanner.hidden = false
      allBanner.append(
        `All ${formatCount(total)} ${state.query ? 'matching messages' : 'messages'} are selected. `,
        h('button', { type: 'button', class: 'link', on: { click: () => clearSelection() } }, 'Clear selection'),
      )
    } else if (msgs.length > 0 && onPage === msgs.length && total > msgs.length) {
      allBanner.hidden = false
      allBanner.append(
        `All ${msgs.length} on this page are selected. `,
        h('button', { type: 'button', class: 'link select-all-matching', on: { click: () => selectAllMatching() } }, `Select all ${formatCount(total)} ${state.query ? 'matching' : 'messages'}`),
      )
    }
    newPill.hidden = state.newCount === 0
    newPill.textContent = `${formatCount(state.newCount)} new ${state.newCount === 1 ? 'message' : 'messages'} — show`
  }

  function renderRow(m) {
    const selected = state.allMatching || state.selected.has(m.ID)
    const check = h('input', {
      type: 'checkbox',
      class: 'select',
      'aria-label': `Select message ${m.Subject || m.ID}`,
      checked: selected,
      on: {
        change: (e) => {
          state.allMatching = false
          if (e.target.checked) state.selected.set(m.ID, m.Tags)
          else state.selected.delete(m.ID)
          render()
        },
      },
    })
    const from = m.From ?? { Name: '', Address: '' }
    const fromText = printable(from.Name || from.Address || (m.MailFrom ? m.MailFrom : '<>'))
    const fromCell = h(
      'div',
      { class: 'c-from' },
      h('button', { type: 'button', class: 'link sender', title: `Search from:${from.Address}`, on: { click: () => app.search(term('from', from.Address || from.Name)) } }, fromText),
    )
    // The envelope sender is what the SMTP client claimed; when it differs from the header, show both.
    if ((m.MailFrom ?? '').toLowerCase() !== (from.Address ?? '').toLowerCase()) {
      fromCell.append(
        h(
          'div',
          { class: 'envfrom' },
          'via ',
          h(
            'button',
            { type: 'button', class: 'link', title: 'Search by envelope sender (MAIL FROM)', on: { click: () => app.search(m.MailFrom ? term('mailfrom', m.MailFrom) : 'mailfrom:<>') } },
            printable(m.MailFrom || '<>'),
          ),
        ),
      )
    }
    const toText = (m.To ?? []).map((a) => printable(a.Name || a.Address)).join(', ')
    const subject = h(
      'div',
      { class: 'c-subject' },
      h('a', { href: `/view/${m.ID}`, class: 'subject', on: { click: (e) => openLink(e, m.ID) } }, printable(m.Subject || (m.Indexed ? '(no subject)' : '(not indexed yet)'))),
      m.Kind && m.Kind !== 'message' ? h('span', { class: `badge kind kind-${m.Kind.replace(/[^a-z]/g, '')}`, title: `kind:${m.Kind}` }, m.Kind) : null,
      (m.Tags ?? []).map((t) => h('button', { type: 'button', class: 'tag', title: `Search ${term('tag', t)}`, on: { click: () => app.search(term('tag', t)) } }, printable(t))),
      m.Snippet ? h('div', { class: 'snippet' }, printable(m.Snippet)) : null,
    )
    const row = h(
      'div',
      {
        class: `row${m.Read ? '' : ' unread'}${selected ? ' selected' : ''}${state.cursorId === m.ID ? ' cursor' : ''}`,
        role: 'listitem',
        'data-id': m.ID,
        on: {
          click: (e) => {
            // Clicks on the row's own controls do their own thing; elsewhere the row opens.
            if (e.target.closest('button, a, input, label')) return
            state.cursorId = m.ID
            app.openMessage(m.ID)
          },
        },
      },
      h('label', { class: 'check' }, check),
      h('span', { class: 'dot', title: m.Read ? 'Read' : 'Unread', 'aria-label': m.Read ? 'read' : 'unread' }),
      h('time', { class: 'c-date', datetime: m.Created, title: `Received ${formatFullDate(m.Created)}` }, formatShortDate(m.Created)),
      fromCell,
      h('div', { class: 'c-to', title: toText }, toText),
      subject,
      h('span', { class: 'c-att' }, m.Attachments > 0 ? icon('paperclip', `${m.Attachments} attachment${m.Attachments > 1 ? 's' : ''}`) : null),
      h('span', { class: 'c-size' }, formatSize(m.Size)),
      h(
        'span',
        { class: 'c-ip' },
        m.ClientIP ? h('button', { type: 'button', class: 'link ip', title: `Search ip:${m.ClientIP}`, on: { click: () => app.search(term('ip', m.ClientIP)) } }, m.ClientIP) : null,
      ),
    )
    return row
  }

  function openLink(e, id) {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return // new tab: let the browser do it
    e.preventDefault()
    state.cursorId = id
    app.openMessage(id)
  }

  // ---- selection and actions ----------------------------------------------------------------
  function selectionCount() {
    return state.allMatching ? (state.data?.messages_count ?? 0) : state.selected.size
  }
  function selection() {
    if (state.allMatching) return { search: state.query }
    if (state.selected.size) return { ids: [...state.selected.keys()] }
    return null
  }
  function clearSelection() {
    state.selected.clear()
    state.allMatching = false
    render()
  }
  function selectAllMatching() {
    state.allMatching = true
    render()
  }

  async function markRead(read) {
    const sel = selection()
    if (!sel) return
    try {
      await api.setRead(sel, read)
      toast(read ? 'Marked read' : 'Marked unread')
      await load()
    } catch (err) {
      toast(err.message, true)
    }
  }

  async function deleteSelection(ids) {
    const sel = ids ? { ids } : selection()
    if (!sel) return
    const n = sel.ids ? sel.ids.length : selectionCount()
    if (!sel.ids) {
      const what = state.query ? `all ${formatCount(n)} messages matching “${state.query}”` : `ALL ${formatCount(n)} messages`
      if (!(await confirmDialog('Delete messages', `Delete ${what}? This cannot be undone.`, 'Delete', true))) return
    }
    try {
      await api.remove(sel)
      if (sel.ids) for (const id of sel.ids) state.selected.delete(id)
      else clearSelection()
      state.allMatching = false
      toast(`Deleted ${formatCount(n)} ${n === 1 ? 'message' : 'messages'}`)
      await load()
    } catch (err) {
      toast(err.message, true)
    }
  }

  /** ID → current tags for the selection; "all matching" is collected page by page. */
  async function selectionTags() {
    if (!state.allMatching) return new Map(state.selected)
    const total = state.data?.messages_count ?? 0
    if (total > MAX_TAG_ALL) throw new Error(`Tagging is limited to ${formatCount(MAX_TAG_ALL)} messages at once; narrow the search`)
    const out = new Map()
    for (let start = 0; start < total; start += 1000) {
      const page = await api.list(state.query, start, 1000)
      for (const m of page.messages) out.set(m.ID, m.Tags)
      if (page.messages.length === 0) break
    }
    return out
  }

  async function tagSelection() {
    const count = selectionCount()
    if (!count) return
    const known = state.data?.tags ?? []
    const answer = await tagDialog(count, known)
    if (!answer) return
    try {
      const byId = await selectionTags()
      // PUT /api/v1/tags sets a message's whole tag list: group messages that end up with the same list.
      const groups = new Map()
      for (const [id, tags] of byId) {
        const next = answer.action === 'add' ? [...new Set([...(tags ?? []), answer.tag])] : (tags ?? []).filter((t) => t !== answer.tag)
        const key = JSON.stringify(next.slice().sort())
        if (!groups.has(key)) groups.set(key, { tags: next, ids: [] })
        groups.get(key).ids.push(id)
      }
      for (const g of groups.values()) {
        for (let i = 0; i < g.ids.length; i += 5000) await api.setTags(g.ids.slice(i, i + 5000), g.tags)
      }
      for (const id of state.selected.keys()) if (byId.has(id)) state.selected.set(id, null)
      toast(`${answer.action === 'add' ? 'Tagged' : 'Untagged'} ${formatCount(byId.size)} ${byId.size === 1 ? 'message' : 'messages'}`)
      await load()
      // Tags of selected messages on other pages are unknown now; refresh them from the new page data.
      for (const m of state.data?.messages ?? []) if (state.selected.has(m.ID)) state.selected.set(m.ID, m.Tags)
    } catch (err) {
      toast(err.message, true)
    }
  }

  function doExport(format) {
    exportMenu.open = false
    const sel = selection() ?? { search: state.query }
    const url = exportUrl(format, sel)
    if (!url) {
      toast('Too many messages selected to export by ID; use "select all matching" with a search instead', true)
      return
    }
    const a = h('a', { href: url, download: '', hidden: true })
    document.body.appendChild(a)
    a.click()
    a.remove()
  }

  function goPage(page) {
    const p = Math.max(0, Math.min(page, lastPage()))
    if (p === state.page) return
    state.page = p
    app.pushListUrl(state.query, state.page)
    void load({ keepScroll: false })
  }

  function setPageSize(n) {
    const first = state.page * state.limit
    state.limit = n
    localStorage.setItem('holdmail.pageSize', String(n))
    state.page = Math.floor(first / n)
    app.pushListUrl(state.query, state.page)
    void load()
  }

  function showNew() {
    state.newCount = 0
    state.page = 0
    app.pushListUrl(state.query, 0)
    void load({ keepScroll: false })
  }

  // ---- live updates -------------------------------------------------------------------------
  const atLiveEdge = () => !root.hidden && state.page === 0 && window.scrollY < 40

  function flushNew() {
    flushNew.scheduled = false
    const batch = state.pendingNew.splice(0)
    if (!batch.length || !state.data) return
    if (!atLiveEdge()) {
      // A reader further down should not have rows moving under them: count instead.
      state.newCount += batch.length
      render()
      return
    }
    // A search cannot be evaluated here; the 'indexed' event refreshes it once the new mail is searchable.
    if (state.query) return
    const known = new Set(state.data.messages.map((m) => m.ID))
    const fresh = batch.filter((m) => !known.has(m.ID)).reverse()
    state.data.messages = [...fresh, ...state.data.messages].slice(0, state.limit)
    state.data.total += fresh.length
    state.data.unread += fresh.filter((m) => !m.Read).length
    state.data.messages_count += fresh.length
    state.data.messages_unread += fresh.filter((m) => !m.Read).length
    render()
    app.updateCounts(state.data)
  }

  function onEvent(ev) {
    if (ev.type === 'new') {
      if (!state.data) return scheduleRefresh()
      state.pendingNew.push(ev.message)
      // Many arrivals per second: one render per frame, not per message.
      if (!flushNew.scheduled) {
        flushNew.scheduled = true
        requestAnimationFrame(flushNew)
        setTimeout(() => flushNew.scheduled && flushNew(), 200) // rAF does not run in a hidden tab
      }
    } else if (ev.type === 'indexed') {
      const onPage = new Set((state.data?.messages ?? []).map((m) => m.ID))
      if (ev.ids.some((id) => onPage.has(id)) || (state.query && atLiveEdge())) scheduleRefresh()
    } else {
      scheduleRefresh()
    }
  }

  window.addEventListener('scroll', () => {
    if (state.newCount && atLiveEdge()) showNew()
  })

  // ---- keyboard cursor ----------------------------------------------------------------------
  function cursorIndex() {
    const msgs = state.data?.messages ?? []
    return msgs.findIndex((m) => m.ID === state.cursorId)
  }
  function moveCursor(delta) {
    const msgs = state.data?.messages ?? []
    if (!msgs.length) return
    let i = cursorIndex()
    i = i === -1 ? (delta > 0 ? 0 : msgs.length - 1) : i + delta
    if (i < 0) {
      if (state.page > 0) return goPage(state.page - 1)
      i = 0
    }
    if (i >= msgs.length) {
      if (state.page < lastPage()) return goPage(state.page + 1)
      i = msgs.length - 1
    }
    state.cursorId = msgs[i].ID
    for (const row of list.children) row.classList.toggle('cursor', row.dataset.id === state.cursorId)
    list.querySelector('.row.cursor')?.scrollIntoView({ block: 'nearest' })
  }

  return {
    state,
    async show(query, page) {
      const changed = query !== state.query
      if (changed) {
        state.selected.clear()
        state.allMatching = false
        state.cursorId = null
      }
      if (changed || page !== state.page) state.newCount = 0
      state.query = query
      state.page = page
      root.hidden = false
      render()
      await load({ keepScroll: !changed })
      if (!state.cursorId && state.data?.messages.length) state.cursorId = null
    },
    hide() {
      root.hidden = true
    },
    onEvent,
    moveCursor,
    openCursor() {
      if (state.cursorId) app.openMessage(state.cursorId)
    },
    toggleCursor() {
      const m = (state.data?.messages ?? []).find((x) => x.ID === state.cursorId)
      if (!m) return
      state.allMatching = false
      if (state.selected.has(m.ID)) state.selected.delete(m.ID)
      else state.selected.set(m.ID, m.Tags)
      render()
    },
    deleteCurrent() {
      if (selectionCount()) return deleteSelection()
      if (state.cursorId) {
        const i = cursorIndex()
        const msgs = state.data?.messages ?? []
        const id = state.cursorId
        state.cursorId = msgs[i + 1]?.ID ?? msgs[i - 1]?.ID ?? null
        return deleteSelection([id])
      }
    },
    /** Where j/k should go from an open message when the list knows the order. */
    refresh: () => load(),
  }
}
