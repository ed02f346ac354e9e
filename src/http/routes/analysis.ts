import type {} from '@fastify/swagger' // route schemas carry OpenAPI summary/tags
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import { createDnsResolver, generateArfReport, lintSpf } from '../../mail/analysis/index.js'
import type { HttpDeps } from '../deps.js'
import { checkPageNumbers, errorSchema, idParams, searchOptions, tzSchema } from '../schemas.js'
import { resolveMessage } from './message.js'
import { backscatterJson, statsJson } from '../message-json.js'

const counted = { type: 'array', items: { type: 'object', properties: { Key: { type: 'string' }, Count: { type: 'integer' } } } } as const
const distribution = { type: 'object', additionalProperties: { type: 'integer' } } as const
const group = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      Key: { type: 'string' },
      Host: { type: 'string' },
      Count: { type: 'integer' },
      FirstSeen: { type: 'string' },
      LastSeen: { type: 'string' },
      Subjects: { type: 'array', items: { type: 'string' } },
    },
  },
} as const

const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase()

export async function analysisRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { store } = deps
  const resolve = createDnsResolver({ server: deps.config.dnsServer })

  app.get(
    '/api/v1/stats',
    {
      schema: {
        summary: 'Messages per hour and day, top sender domains, client IPs and /24s, auth results, kinds',
        tags: ['analysis'],
        response: {
          200: {
            type: 'object',
            properties: {
              PerHour: { type: 'array', items: { type: 'object', properties: { Hour: { type: 'string' }, Count: { type: 'integer' } } } },
              PerDay: { type: 'array', items: { type: 'object', properties: { Day: { type: 'string' }, Count: { type: 'integer' } } } },
              TopSenderDomains: counted,
              TopClientIPs: counted,
              TopNets24: counted,
              Auth: { type: 'object', properties: { SPF: distribution, DKIM: distribution, DMARC: distribution } },
              Kinds: distribution,
              TopBackscatterSources: group,
            },
          },
        },
      },
    },
    async () => {
      const [stats, backscatter] = await Promise.all([store.stats(), store.backscatter('', 10)])
      return { ...statsJson(stats), TopBackscatterSources: backscatterJson(backscatter).ByOrigin }
    },
  )

  app.get<{ Querystring: { query?: string; limit: number; tz?: string } }>(
    '/api/v1/backscatter',
    {
      preHandler: checkPageNumbers,
      schema: {
        summary: 'Bounces grouped by the server that really sent the bounced mail, and by the forged sender',
        tags: ['analysis'],
        querystring: {
          type: 'object',
          properties: { query: { type: 'string', maxLength: 4096 }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 }, tz: tzSchema },
        },
        response: {
          200: { type: 'object', properties: { Bounces: { type: 'integer' }, ByOrigin: group, BySender: group } },
          400: errorSchema,
        },
      },
    },
    async (req) => backscatterJson(await store.backscatter(req.query.query ?? '', req.query.limit, searchOptions(req.query.tz))),
  )

  app.get<{ Params: { ID: string }; Querystring: { to?: string; from?: string; type?: string } }>(
    '/api/v1/message/:ID/arf-report',
    {
      schema: {
        summary: 'An RFC 5965 abuse report draft (.eml) with the sample attached intact; holdmail never sends it',
        tags: ['analysis'],
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            to: { type: 'string', maxLength: 320, description: 'abuse contact; default abuse@ the sending domain' },
            from: { type: 'string', maxLength: 320 },
            type: { type: 'string', enum: ['abuse', 'fraud', 'virus', 'other', 'not-spam', 'auth-failure'], default: 'abuse' },
          },
        },
        response: { 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const m = await resolveMessage(deps, req.params.ID)
      const senderDomain = domainOf(m.summary?.from?.Address || m.envelope.mailFrom)
      const to = req.query.to?.trim() || (senderDomain ? `abuse@${senderDomain}` : '')
      if (!/^[^\s@<>]+@[^\s@<>]+$/.test(to)) throw new AppError('BAD_REQUEST', 'give the abuse contact as ?to=abuse@example.net (the sample has no sending domain to default to)')
      const auth = m.summary?.auth as { SPF?: { IP?: string } } | null
      const eml = generateArfReport((await store.getRaw(m.id))!, m.envelope, {
        to,
        from: req.query.from,
        feedbackType: req.query.type,
        sourceIp: auth?.SPF?.IP || undefined,
      })
      return reply
        .type('message/rfc822')
        .header('Content-Disposition', `attachment; filename="arf-${m.id}.eml"`)
        .header('X-Content-Type-Options', 'nosniff')
        .send(eml)
    },
  )

  app.get<{ Querystring: { target: string } }>(
    '/api/v1/spf-lint',
    {
      schema: {
        summary: 'Lint the SPF record of a domain, or a literal "v=spf1 ..." record',
        tags: ['analysis'],
        querystring: { type: 'object', required: ['target'], properties: { target: { type: 'string', minLength: 1, maxLength: 4096 } } },
        response: {
          200: {
            type: 'object',
            properties: {
              Domain: { type: 'string' },
              Record: { type: 'string' },
              Lookups: { type: 'integer' },
              VoidLookups: { type: 'integer' },
              Problems: {
                type: 'array',
                items: { type: 'object', properties: { Severity: { type: 'string' }, Term: { type: 'string' }, Message: { type: 'string' } } },
              },
            },
          },
          400: errorSchema,
        },
      },
    },
    async (req) => lintSpf(req.query.target, resolve),
  )
}
