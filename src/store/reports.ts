import type Database from 'better-sqlite3'
import { compileSearch, type SearchOptions } from './search-query.js'

// Aggregate reads over the whole store (statistics, backscatter groups), as domain objects in
// camelCase; src/http shapes them for the API. They scan many rows, so they run in the reader pool.

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000
const TOP_N = 20

export interface Counted {
  key: string
  count: number
}

export interface StoreStats {
  perHour: { hourMs: number; count: number }[] // last 48 hours
  perDay: { dayMs: number; count: number }[] // last 30 days
  topSenderDomains: Counted[]
  topClientIps: Counted[]
  topNets24: Counted[]
  auth: { spf: Record<string, number>; dkim: Record<string, number>; dmarc: Record<string, number> }
  kinds: Record<string, number>
}

export interface BackscatterGroup {
  key: string
  host: string
  count: number
  firstSeen: number
  lastSeen: number
  subjects: string[]
}

export interface Backscatter {
  bounces: number
  byOrigin: BackscatterGroup[]
  bySender: BackscatterGroup[]
}

export interface Reports {
  stats(now?: number): StoreStats
  /** Bounces grouped by the server that really sent the bounced mail, and by the forged sender. */
  backscatter(search: string, limit?: number, opts?: SearchOptions): Backscatter
}

export function createReports(db: Database.Database): Reports {
  const top = (sql: string): Counted[] =>
    db
      .prepare<[number], { k: string; n: number }>(sql)
      .all(TOP_N)
      .map((r) => ({ key: r.k, count: r.n }))
  const dist = (sql: string): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const r of db.prepare<[], { k: string | null; n: number }>(sql).all()) out[r.k ?? 'unknown'] = r.n
    return out
  }
  return {
    stats(now = Date.now()) {
      const perHour = db
        .prepare<[number], { h: number; n: number }>(`SELECT received_at / ${HOUR_MS} AS h, count(*) AS n FROM messages WHERE received_at >= ? GROUP BY h ORDER BY h`)
        .all(now - 48 * HOUR_MS)
      const perDay = db
        .prepare<[number], { d: number; n: number }>(`SELECT received_at / ${DAY_MS} AS d, count(*) AS n FROM messages WHERE received_at >= ? GROUP BY d ORDER BY d`)
        .all(now - 30 * DAY_MS)
      return {
        perHour: perHour.map((r) => ({ hourMs: r.h * HOUR_MS, count: r.n })),
        perDay: perDay.map((r) => ({ dayMs: r.d * DAY_MS, count: r.n })),
        topSenderDomains: top(`SELECT CASE WHEN mail_from = '' THEN '<>' ELSE lower(substr(mail_from, instr(mail_from, '@') + 1)) END AS k,
          count(*) AS n FROM messages GROUP BY k ORDER BY n DESC LIMIT ?`),
        topClientIps: top('SELECT client_ip AS k, count(*) AS n FROM messages GROUP BY k ORDER BY n DESC LIMIT ?'),
        topNets24: top(`SELECT ((client_ip4 >> 24) & 255) || '.' || ((client_ip4 >> 16) & 255) || '.' || ((client_ip4 >> 8) & 255) || '.0/24' AS k,
          count(*) AS n FROM messages WHERE client_ip4 IS NOT NULL GROUP BY client_ip4 >> 8 ORDER BY n DESC LIMIT ?`),
        auth: {
          spf: dist(`SELECT auth_json ->> '$.SPF.Result' AS k, count(*) AS n FROM messages WHERE auth_json IS NOT NULL GROUP BY k`),
          dkim: dist(`SELECT coalesce((SELECT d.value ->> 'Result' FROM json_each(auth_json, '$.DKIM') d
            ORDER BY d.value ->> 'Result' = 'pass' DESC LIMIT 1), 'none') AS k, count(*) AS n FROM messages WHERE auth_json IS NOT NULL GROUP BY k`),
          dmarc: dist(`SELECT auth_json ->> '$.DMARC.Result' AS k, count(*) AS n FROM messages WHERE auth_json IS NOT NULL GROUP BY k`),
        },
        kinds: dist(`SELECT coalesce(kind, 'unindexed') AS k, count(*) AS n FROM messages GROUP BY k`),
      }
    },

    backscatter(search, limit = 50, opts = {}) {
      const f = compileSearch(search, opts)
      const where = `m.kind = 'bounce' AND ${f.where}`
      type GroupRow = { k: string | null; host: string | null; n: number; first: number; last: number; subjects: string }
      const group = (keyExpr: string, hostExpr: string): BackscatterGroup[] =>
        db
          .prepare<unknown[], GroupRow>(`SELECT ${keyExpr} AS k, max(${hostExpr}) AS host, count(*) AS n, min(m.received_at) AS first, max(m.received_at) AS last,
              json_group_array(DISTINCT coalesce(m.analysis_json ->> '$.Bounce.Original.Subject', m.subject)) AS subjects
              FROM messages m WHERE ${where} GROUP BY k ORDER BY n DESC LIMIT ?`)
          .all(...f.params, limit)
          .map((r) => ({
            key: r.k ?? '',
            host: r.host ?? '',
            count: r.n,
            firstSeen: r.first,
            lastSeen: r.last,
            subjects: (JSON.parse(r.subjects) as (string | null)[]).filter((x): x is string => Boolean(x)).slice(0, 5),
          }))
      const total = db.prepare<unknown[], number>(`SELECT count(*) FROM messages m WHERE ${where}`).pluck().get(...f.params) ?? 0
      return {
        bounces: total,
        byOrigin: group(`coalesce(nullif(m.analysis_json ->> '$.Bounce.Original.OriginIP', ''), 'unknown')`, `m.analysis_json ->> '$.Bounce.Original.OriginHost'`),
        bySender: group(
          `lower(coalesce(nullif(m.analysis_json ->> '$.Bounce.Original.MailFrom', ''), nullif(m.analysis_json ->> '$.Bounce.Original.From', ''), 'unknown'))`,
          `m.analysis_json ->> '$.Bounce.Original.From'`,
        ),
      }
    },
  }
}
