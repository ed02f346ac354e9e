// Thin wrappers over the JSON API. Errors carry the server's message so the UI can show it.

export class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

async function request(method, path, body) {
  const init = { method, headers: { accept: 'application/json' } }
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  const res = await fetch(path, init)
  const text = await res.text()
  let data = text
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    // plain "ok"
  }
  if (!res.ok) {
    const message = data && typeof data === 'object' && data.error ? data.error.message : `HTTP ${res.status}`
    throw new ApiError(res.status, message)
  }
  return data
}

const q = (params) => new URLSearchParams(params).toString()
// The browser's time zone, sent with every search (Mailpit's `tz`): a date-only `after:2026-12-01`
// means that day where the user is, as the list shows times in that zone.
const tz = (() => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || ''
  } catch {
    return ''
  }
})()
const withTz = (params) => (tz ? { ...params, tz } : params)

export const api = {
  list(query, start, limit) {
    return query
      ? request('GET', `/api/v1/search?${q(withTz({ query, start, limit }))}`)
      : request('GET', `/api/v1/messages?${q({ start, limit })}`)
  },
  message: (id) => request('GET', `/api/v1/message/${encodeURIComponent(id)}`),
  headerLines: (id) => request('GET', `/api/v1/message/${encodeURIComponent(id)}/header-lines`),
  async raw(id) {
    const res = await fetch(`/api/v1/message/${encodeURIComponent(id)}/raw`)
    if (!res.ok) throw new ApiError(res.status, `HTTP ${res.status}`)
    return new Uint8Array(await res.arrayBuffer())
  },
  /** SpamAssassin's stored verdict (Mailpit's sa-check shape); `Error` says when there is none. */
  saCheck: (id) => request('GET', `/api/v1/message/${encodeURIComponent(id)}/sa-check`),
  /** The UI configuration (Mailpit's /webui): which optional features this server runs. */
  webui: () => request('GET', '/api/v1/webui'),
  neighbours: (id, query) => request('GET', `/api/v1/message/${encodeURIComponent(id)}/neighbours?${q(withTz({ query }))}`),
  /** selection: { ids } or { search } (search '' = everything) */
  setRead(selection, read) {
    return selection.ids
      ? request('PUT', '/api/v1/messages', { IDs: selection.ids, Read: read })
      : request('PUT', `/api/v1/messages?${q(withTz({}))}`, { Search: selection.search, Read: read })
  },
  remove(selection) {
    if (selection.ids) return request('DELETE', '/api/v1/messages', { IDs: selection.ids })
    if (selection.search) return request('DELETE', `/api/v1/search?${q(withTz({ query: selection.search }))}`)
    return request('DELETE', '/api/v1/messages', null) // every message
  },
  setTags: (ids, tags) => request('PUT', '/api/v1/tags', { IDs: ids, Tags: tags }),
  tags: () => request('GET', '/api/v1/tags'),
  info: () => request('GET', '/api/v1/info'),
  stats: () => request('GET', '/api/v1/stats'),
  backscatter: (query, limit = 100) => request('GET', `/api/v1/backscatter?${q(withTz({ query, limit }))}`),
  spfLint: (target) => request('GET', `/api/v1/spf-lint?${q({ target })}`),
  /** The ARF report draft as bytes; the server's JSON error message when it refuses. */
  async arfReport(id, to, type) {
    const params = { type }
    if (to) params.to = to
    const res = await fetch(`/api/v1/message/${encodeURIComponent(id)}/arf-report?${q(params)}`)
    if (!res.ok) {
      let message = `HTTP ${res.status}`
      try {
        message = (await res.json()).error.message
      } catch {
        // not JSON
      }
      throw new ApiError(res.status, message)
    }
    return res.blob()
  },
}

export const rawUrl = (id, download) => `/api/v1/message/${encodeURIComponent(id)}/raw${download ? '?dl=1' : ''}`
export const partUrl = (id, part) => `/api/v1/message/${encodeURIComponent(id)}/part/${encodeURIComponent(part)}`
export const htmlViewUrl = (id, remote) => `/view/${encodeURIComponent(id)}.html${remote ? '?remote=1' : ''}`

/** Export URL for a search or for listed IDs; null when the ID list would not fit in a URL. */
export function exportUrl(format, selection) {
  if (selection.ids) {
    const ids = selection.ids.join(',')
    // Node refuses request headers over 16 KiB; stay well below.
    if (ids.length > 12_000) return null
    return `/api/v1/export?${q({ format, ids })}`
  }
  return `/api/v1/export?${q(withTz({ format, query: selection.search ?? '' }))}`
}
