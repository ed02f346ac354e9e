// holdmail web UI: client-side routes with Mailpit's URLs (/ list, /search?q= search, /view/{ID}
// message), live updates over server-sent events, keyboard shortcuts. Plain ES modules, no build.
import { api } from './api.js'
import { helpDialog } from './dialogs.js'
import { formatCount } from './dom.js'
import { createBackscatterView } from './backscatter.js'
import { createListView } from './list.js'
import { createMessageView } from './message.js'
import { createStatsView } from './stats.js'

const searchInput = document.getElementById('search')
const searchForm = document.getElementById('search-form')
const counts = document.getElementById('counts')
const live = document.getElementById('live')

let view = 'list'

const app = {
  currentQuery: () => list.state.query,
  search(query) {
    searchInput.value = query
    navigate(listUrl(query, 0))
  },
  openMessage(id, { replace = false } = {}) {
    navigate(`/view/${encodeURIComponent(id)}`, replace)
  },
  backToList() {
    navigate(listUrl(list.state.query, list.state.page))
  },
  pushListUrl(query, page) {
    history.pushState(null, '', listUrl(query, page))
  },
  navigate: (url) => navigate(url),
  updateCounts(data) {
    if (!data) return
    counts.textContent = `${formatCount(data.total)} messages · ${formatCount(data.unread)} unread`
  },
}

const list = createListView(document.getElementById('list-view'), app)
const message = createMessageView(document.getElementById('message-view'), app)
const stats = createStatsView(document.getElementById('stats-view'), app)
const backscatter = createBackscatterView(document.getElementById('backscatter-view'), app)
const navLinks = [...document.querySelectorAll('.nav a')]

function listUrl(query, page) {
  const params = new URLSearchParams()
  if (query) params.set('q', query)
  if (page > 0) params.set('page', String(page + 1))
  const qs = params.toString()
  return (query ? '/search' : '/') + (qs ? `?${qs}` : '')
}

function navigate(url, replace = false) {
  if (replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  route()
}

function setView(next) {
  view = next
  if (next !== 'list') list.hide()
  if (next !== 'message') message.hide()
  if (next !== 'stats') stats.hide()
  if (next !== 'backscatter') backscatter.hide()
  const section = next === 'message' ? 'list' : next
  for (const a of navLinks) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
}

// Each view's show() reports a failed load on its own page, so the router does not wait for it.
function route() {
  const { pathname, searchParams } = new URL(location.href)
  const viewMatch = /^\/view\/([^/]+)$/.exec(pathname)
  if (viewMatch) {
    setView('message')
    void message.show(decodeURIComponent(viewMatch[1]))
    return
  }
  if (pathname === '/stats') {
    setView('stats')
    if (document.activeElement !== searchInput) searchInput.value = ''
    void stats.show()
    return
  }
  if (pathname === '/backscatter') {
    setView('backscatter')
    if (document.activeElement !== searchInput) searchInput.value = ''
    void backscatter.show((searchParams.get('query') ?? '').trim())
    return
  }
  setView('list')
  const query = pathname === '/search' ? (searchParams.get('q') ?? '').trim() : ''
  const page = Math.max(0, (parseInt(searchParams.get('page') ?? '1', 10) || 1) - 1)
  if (document.activeElement !== searchInput) searchInput.value = query
  document.title = query ? `${query} – holdmail` : 'holdmail'
  void list.show(query, page)
}

searchForm.addEventListener('submit', (e) => {
  e.preventDefault()
  searchInput.blur()
  app.search(searchInput.value.trim())
})

window.addEventListener('popstate', route)

// Links inside the app shell (brand, navigation, search links on the stats pages) stay client-side.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-route]')
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return
  e.preventDefault()
  const href = a.getAttribute('href')
  const url = new URL(href, location.href)
  searchInput.value = url.pathname === '/search' ? (url.searchParams.get('q') ?? '') : ''
  navigate(href)
})

document.getElementById('help-button').addEventListener('click', () => void helpDialog())

// ---- keyboard -----------------------------------------------------------------------------
document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return
  const t = e.target
  const typing = t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) && t.type !== 'checkbox'
  if (typing) {
    if (e.key === 'Escape' && t === searchInput) searchInput.blur()
    return
  }
  if (document.querySelector('dialog[open]')) return
  const handled = view === 'list' ? listKey(e) : view === 'message' ? messageKey(e) : false
  if (handled || globalKey(e)) e.preventDefault()
})

// The key handlers start async actions (dialogs, deletes, j/k navigation) without waiting: each
// action reports its own failures with a toast or a banner.
function globalKey(e) {
  switch (e.key) {
    case '/':
      searchInput.focus()
      searchInput.select()
      return true
    case '?':
      void helpDialog()
      return true
  }
  return false
}

function listKey(e) {
  switch (e.key) {
    case 'j':
    case 'ArrowDown':
      if (e.key === 'ArrowDown' && !list.state.cursorId) return false
      list.moveCursor(1)
      return true
    case 'k':
    case 'ArrowUp':
      if (e.key === 'ArrowUp' && !list.state.cursorId) return false
      list.moveCursor(-1)
      return true
    case 'Enter':
      if (!list.state.cursorId || (e.target instanceof HTMLElement && e.target.closest('button, a'))) return false
      list.openCursor()
      return true
    case 'x':
      list.toggleCursor()
      return true
    case 'Delete':
    case 'd':
      void list.deleteCurrent()
      return true
  }
  return false
}

function messageKey(e) {
  switch (e.key) {
    case 'j':
      void message.next()
      return true
    case 'k':
      void message.previous()
      return true
    case 'u':
    case 'Escape':
      app.backToList()
      return true
    case 'Delete':
    case 'd':
      void message.remove()
      return true
    case 'r':
      message.loadRemote()
      return true
  }
  return false
}

// ---- live updates -------------------------------------------------------------------------
function connectEvents() {
  const source = new EventSource('/api/v1/events')
  const dispatch = (e) => {
    let ev
    try {
      ev = JSON.parse(e.data)
    } catch {
      return
    }
    list.onEvent(ev)
    message.onEvent(ev)
  }
  for (const type of ['new', 'indexed', 'update', 'delete']) source.addEventListener(type, dispatch)
  source.addEventListener('open', () => {
    live.textContent = 'live'
    live.className = 'live on'
    live.title = 'Receiving new messages as they arrive'
  })
  source.addEventListener('error', () => {
    // EventSource reconnects by itself; say so meanwhile.
    live.textContent = 'reconnecting'
    live.className = 'live off'
    live.title = 'Lost the connection to the server; retrying'
  })
}

route()
// Opened straight on a message or a stats page: the counts come from the list, so ask for them once.
if (view !== 'list') api.list('', 0, 1).then((data) => app.updateCounts(data), () => {})
connectEvents()
