import { Resolver } from 'node:dns/promises'

/** The resolver shape mailauth calls: node:dns `resolve(name, rrtype)` results, errors carrying `code`. */
export type DnsResolve = (name: string, rrtype: string) => Promise<unknown[]>

export interface DnsResolverOptions {
  server: { host: string; port: number } | null // null: the system's resolvers
  timeoutMs?: number
  cacheTtlMs?: number
  maxCacheEntries?: number
}

export const DEFAULT_DNS_TIMEOUT_MS = 2000
// Mail from one campaign arrives in bursts from the same few domains; a minute of caching spares the
// DNS server without keeping a stale record across a real change for long.
const DEFAULT_CACHE_TTL_MS = 60_000
// Negative answers (NXDOMAIN, NODATA) are cached for less time (RFC 2308 lets a server say how long;
// node:dns does not expose it, so we pick a short fixed value).
const NEGATIVE_CACHE_TTL_MS = 15_000
const DEFAULT_MAX_CACHE_ENTRIES = 5000

interface CacheEntry {
  expires: number
  value?: unknown[]
  error?: Error
}

/** A DNS lookup function with a per-lookup timeout and a small in-memory cache keyed by name and type. */
export function createDnsResolver(opts: DnsResolverOptions): DnsResolve {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS
  const ttlMs = opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS
  const maxEntries = opts.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES
  // tries: 1, so timeoutMs really bounds one lookup (c-ares would otherwise retry with a doubled timeout).
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 })
  if (opts.server) {
    const { host, port } = opts.server
    resolver.setServers([host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`])
  }
  const cache = new Map<string, CacheEntry>()
  const inflight = new Map<string, Promise<unknown[]>>()

  function remember(key: string, entry: CacheEntry): void {
    if (cache.size >= maxEntries) {
      // Map keeps insertion order: dropping the first key drops the oldest entry.
      const oldest = cache.keys().next().value
      if (oldest !== undefined) cache.delete(oldest)
    }
    cache.set(key, entry)
  }

  return async (name: string, rrtype: string): Promise<unknown[]> => {
    const key = `${name.toLowerCase().replace(/\.$/, '')} ${rrtype.toUpperCase()}`
    const hit = cache.get(key)
    if (hit && hit.expires > Date.now()) {
      if (hit.error) throw hit.error
      return hit.value ?? []
    }
    if (hit) cache.delete(key)
    const pending = inflight.get(key)
    if (pending) return pending
    const lookup = (resolver.resolve(name, rrtype) as Promise<unknown[]>)
      .then((value) => {
        remember(key, { expires: Date.now() + ttlMs, value })
        return value
      })
      .catch((err: unknown) => {
        const code = (err as { code?: string }).code
        // Only definite answers are cached; a timeout or SERVFAIL should be retried by the next message.
        if (code === 'ENOTFOUND' || code === 'ENODATA') remember(key, { expires: Date.now() + NEGATIVE_CACHE_TTL_MS, error: err as Error })
        throw err
      })
      .finally(() => inflight.delete(key))
    inflight.set(key, lookup)
    return lookup
  }
}
