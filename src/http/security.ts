import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { BlockList, isIPv4, isIPv6 } from 'node:net'
import type { Config } from '../config/index.js'

// What a web page in the user's browser may do to holdmail. The browser is the attacker's tool:
// a page on another site (or a rebinding name that resolves to 127.0.0.1), a page framing the
// UI, or a sample's own HTML inside the message view. The hooks here run before any route.

/** Socket and request deadlines; one place for the defaults, overridable for tests. */
export interface HttpLimits {
  /** Request line and headers must arrive within this (Node's headersTimeout). */
  headersTimeoutMs: number
  /** The whole request, body included: 16 MiB of IDs over a slow link fits. */
  requestTimeoutMs: number
  /** A socket with no traffic either way for this long is closed; the event stream pings every 25 s. */
  idleTimeoutMs: number
  /** An idle keep-alive connection is closed after this (Node's own default). */
  keepAliveTimeoutMs: number
  /** How often Node checks headers and request deadlines (they fire up to this late). */
  checkIntervalMs: number
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 120_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 2_000,
}

/** Bodies of bulk routes (a PUT/DELETE with up to 100 000 IDs); everything else gets SMALL_BODY_LIMIT_BYTES. */
export const BULK_BODY_LIMIT_BYTES = 16 * 1024 * 1024
// A tag rename, a read flag or a search string: a few KiB; 1 MiB leaves room for odd clients.
const SMALL_BODY_LIMIT_BYTES = 1024 * 1024
const BULK_ROUTES = new Set(['PUT /api/v1/messages', 'DELETE /api/v1/messages', 'PUT /api/v1/tags', 'DELETE /api/v1/search'])

/** Fastify constructor options for the limits above. */
export function serverOptions(limits: HttpLimits): {
  connectionTimeout: number
  requestTimeout: number
  keepAliveTimeout: number
  http: { headersTimeout: number; connectionsCheckingInterval: number }
} {
  return {
    connectionTimeout: limits.idleTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node requires headersTimeout <= requestTimeout.
    http: { headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs), connectionsCheckingInterval: limits.checkIntervalMs },
  }
}

// 127.0.0.0/8 and ::1 are loopback (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3); ::ffff:127.x is the
// same address in IPv4-mapped form.
const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6')

const WILDCARDS = new Set(['', '0.0.0.0', '::', '0:0:0:0:0:0:0:0'])

/** The host part of a Host header, lowercased, brackets and port removed; null when malformed. */
export function hostName(header: string): string | null {
  const h = header.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    if (end < 0) return null
    const rest = h.slice(end + 1)
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null
    return h.slice(1, end)
  }
  const m = /^([^:]+)(?::\d{1,5})?$/.exec(h)
  return m ? m[1]! : null
}

export function isLoopbackHost(name: string): boolean {
  if (name === 'localhost') return true
  if (isIPv4(name)) return LOOPBACK.check(name, 'ipv4')
  if (isIPv6(name)) return LOOPBACK.check(name, 'ipv6')
  return false
}

/**
 * Whether a Host value may be answered without authentication. A DNS-rebinding page reaches the
 * server under its own name, so only names that cannot be rebound are accepted: loopback names and
 * literals, the address --http binds to, and what the user lists in --http-allowed-hosts.
 */
export function hostAllowed(config: Pick<Config, 'http' | 'httpAllowedHosts'>, header: string | undefined): boolean {
  // HTTP/1.0 without Host: no browser sends that, so it cannot be a rebinding page.
  if (header === undefined) return true
  const name = hostName(header)
  if (name === null) return false
  if (isLoopbackHost(name)) return true
  const bound = config.http.host.toLowerCase().replace(/^\[|\]$/g, '')
  if (!WILDCARDS.has(bound) && name === bound) return true
  return config.httpAllowedHosts.includes(name)
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'DELETE', 'PATCH'])
// Sec-Fetch-Site values of requests the UI itself makes (same-origin) or the user makes by typing
// a URL or opening a bookmark (none). Absent: not a browser (curl, mailpit-api) or an old browser.
const OWN_SITES = new Set(['same-origin', 'none'])

/** Paths whose answers carry stored data or cost work: the API, the sample renderings, metrics. */
const guarded = (path: string): boolean => path.startsWith('/api/') || (path.startsWith('/view/') && /\.(html|txt)$/.test(path)) || path === '/metrics'
const PART_PATH = /^\/api\/v1\/message\/[^/]+\/part\/[^/]+$/
const VIEW_HTML_PATH = /^\/view\/[^/]+\.html$/

/**
 * Why a browser request to `path` (a route pattern such as /api/v1/message/:ID) must be refused,
 * or null. Sec-Fetch-* (Fetch Metadata) is sent by current browsers to loopback and HTTPS origins;
 * a client that sends none is not a browser page (or is one on a plain-http LAN address).
 */
export function foreignRequestReason(req: { method: string; path: string; headers: Record<string, string | string[] | undefined> }): string | null {
  const header = (name: string): string | undefined => {
    const v = req.headers[name]
    return Array.isArray(v) ? v[0] : v
  }
  const site = header('sec-fetch-site')
  const dest = header('sec-fetch-dest')
  // A WebSocket handshake is a GET that the same-origin policy does not protect (RFC 6455 §10.2:
  // the server checks Origin), so it gets the state-changing checks.
  const upgrade = header('upgrade')?.toLowerCase() === 'websocket'
  if (STATE_CHANGING.has(req.method) || upgrade) {
    const origin = header('origin')
    if (origin !== undefined && !sameOrigin(origin, header('host'))) return `a ${upgrade ? 'WebSocket' : req.method} from origin ${origin} is refused (cross-site request)`
    if (site !== undefined && !OWN_SITES.has(site)) return `a ${req.method} from a ${site} page is refused`
  }
  if (!guarded(req.path)) return null
  // A page on another site, or a sample's HTML (its sandboxed frame has an opaque origin, so
  // everything it loads is cross-site): no API answer, no search, no lookup, no read flag.
  if (site !== undefined && !OWN_SITES.has(site)) return `a request from a ${site} page is refused`
  // Browsers send no Fetch Metadata to plain-http origins other than loopback (a LAN address):
  // there an <img> or stylesheet load still says what it wants in Accept, which no API client does.
  if (!PART_PATH.test(req.path) && /^\s*(image\/|text\/css)/i.test(header('accept') ?? '')) return 'the API does not answer image or style loads'
  if (dest === undefined || dest === 'empty' || dest === 'document') return null
  if (dest === 'websocket' && req.path.startsWith('/api/')) return null
  if (dest === 'iframe' && VIEW_HTML_PATH.test(req.path)) return null
  // The UI shows image attachments and links downloads: parts may load as any kind of resource.
  if (PART_PATH.test(req.path)) return null
  return `the API does not answer ${dest} loads`
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false
  try {
    const u = new URL(origin)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host === new URL(`${u.protocol}//${host}`).host
  } catch {
    return false // "null" (an opaque origin: a sandboxed frame, a data: URL) and garbage
  }
}

/** Host check (unless auth is on), Fetch Metadata checks, anti-framing headers, per-route body limits. */
export function registerSecurity(app: FastifyInstance, config: Config): void {
  const authOn = Boolean(config.httpAuth || config.httpToken)
  const refuse = (reply: FastifyReply, status: number, code: string, message: string): FastifyReply =>
    reply.status(status).header('Cache-Control', 'no-store').send({ error: { code, message } })

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!authOn && !hostAllowed(config, req.headers.host)) {
      return refuse(
        reply,
        403,
        'FORBIDDEN_HOST',
        `Host "${req.headers.host}" is not allowed: without --http-auth or --http-token holdmail answers only loopback names; add this name with --http-allowed-hosts`,
      )
    }
    // The matched route's pattern, not the request's path: the router decodes "/%61pi/..." to /api/.
    const path = req.routeOptions.url ?? req.url.split('?')[0]!
    const reason = foreignRequestReason({ method: req.method, path, headers: req.headers })
    if (reason) return refuse(reply, 403, 'FORBIDDEN_ORIGIN', reason)
    return undefined
  })

  // No page of another origin may frame the UI or an API answer (clickjacking). The message view's
  // HTML sets its own frame-ancestors 'self' (the UI frames it) and is left as it is.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (!reply.hasHeader('x-frame-options')) reply.header('X-Frame-Options', 'DENY')
    // A JSON answer quoting a sample (a subject with markup) is never to be sniffed as HTML.
    if (!reply.hasHeader('x-content-type-options')) reply.header('X-Content-Type-Options', 'nosniff')
    const csp = reply.getHeader('content-security-policy')
    if (csp === undefined) reply.header('Content-Security-Policy', "frame-ancestors 'none'")
    else if (typeof csp === 'string' && !/(^|;)\s*frame-ancestors\b/.test(csp)) reply.header('Content-Security-Policy', `${csp}; frame-ancestors 'none'`)
    return payload
  })

  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.bodyLimit !== undefined) return
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    route.bodyLimit = methods.some((m) => BULK_ROUTES.has(`${m} ${route.url}`)) ? BULK_BODY_LIMIT_BYTES : SMALL_BODY_LIMIT_BYTES
  })
}

/** For the message view: a request the UI made (or a plain API client), not a page's subresource. */
export function isOwnRequest(headers: Record<string, string | string[] | undefined>): boolean {
  const site = headers['sec-fetch-site']
  const dest = headers['sec-fetch-dest']
  return (site === undefined || (typeof site === 'string' && OWN_SITES.has(site))) && (dest === undefined || dest === 'empty')
}
