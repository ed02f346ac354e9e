import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'
import fastifySwagger from '@fastify/swagger'
import fastifyWebsocket from '@fastify/websocket'
import { timingSafeEqual } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { AppError } from '../errors.js'
import type { HttpDeps } from './deps.js'
import { analysisRoutes } from './routes/analysis.js'
import { chaosRoutes } from './routes/chaos.js'
import { healthRoutes } from './routes/health.js'
import { sendRoutes } from './routes/send.js'
import { thumbRoutes } from './routes/thumb.js'
import { webuiRoutes } from './routes/webui.js'
import { websocketRoutes } from './routes/websocket.js'
import { exportRoutes } from './routes/export.js'
import { infoRoutes } from './routes/info.js'
import { metricsRoutes } from './routes/metrics.js'
import { messageRoutes } from './routes/message.js'
import { messagesRoutes } from './routes/messages.js'
import { spamRoutes } from './routes/spam.js'
import { tagsRoutes } from './routes/tags.js'
import { viewRoutes } from './routes/view.js'
import { DEFAULT_HTTP_LIMITS, registerSecurity, serverOptions, type HttpLimits } from './security.js'

const STATUS: Record<string, number> = {
  NOT_FOUND: 404,
  BAD_QUERY: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  READ_TIMEOUT: 503,
}
// 503s that are about the request itself (a search too heavy), not a fault: their message is shown.
const EXPLAINED_5XX = new Set(['READ_TIMEOUT'])
const BODY_LIMIT_BYTES = 16 * 1024 * 1024 // a PUT with 100 000 IDs fits

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** A Fastify instance with every route registered, not yet listening (tests use inject or a real port). */
export async function buildHttpApp(deps: HttpDeps, limits: HttpLimits = DEFAULT_HTTP_LIMITS): Promise<FastifyInstance> {
  // Request lines are info-level noise here; errors still reach the log. Typed as Fastify's base
  // logger so that the instance is the plain FastifyInstance the route modules take.
  const loggerInstance: FastifyBaseLogger = deps.logger.child({ mod: 'http' }, { level: 'warn' })
  const app = Fastify({
    loggerInstance,
    bodyLimit: BODY_LIMIT_BYTES,
    ...serverOptions(limits),
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: true, useDefaults: true } },
  })

  // Mailpit clients send DELETE/PUT with an empty body and a JSON content type: treat it as null.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body).trim()
    if (text === '') return done(null, null)
    try {
      done(null, JSON.parse(text))
    } catch {
      done(new AppError('BAD_REQUEST', 'request body is not valid JSON'))
    }
  })

  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    if (err instanceof AppError) {
      const status = STATUS[err.code] ?? 500
      const explained = status < 500 || EXPLAINED_5XX.has(err.code)
      if (!explained) req.log.error({ err }, 'request failed')
      if (status === 401) reply.header('WWW-Authenticate', 'Basic realm="holdmail"')
      return reply.status(status).send({ error: { code: err.code, message: explained ? err.message : 'internal error' } })
    }
    if (err.validation) {
      return reply.status(400).send({ error: { code: 'BAD_REQUEST', message: err.message } })
    }
    const status = err.statusCode ?? 500
    if (status >= 500) {
      req.log.error({ err }, 'request failed')
      return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error; see the server log' } })
    }
    return reply.status(status).send({ error: { code: err.code ?? 'BAD_REQUEST', message: err.message } })
  })

  // Before authentication: a rebinding page or a foreign site gets 403 whatever it sends.
  registerSecurity(app, deps.config)
  // A websocket handshake answered with anything but 101 (refused, not found, unauthorised) ends its
  // connection: @fastify/websocket destroys that socket after the answer, so a client must not
  // keep it alive and send its next request there.
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.headers.upgrade !== undefined) reply.header('connection', 'close')
    return payload
  })

  const { httpAuth, httpToken } = deps.config
  if (httpAuth || httpToken) {
    app.addHook('onRequest', async (req) => {
      // Probes (a container orchestrator) carry no credentials and learn nothing but "ok".
      if (req.url === '/livez' || req.url === '/readyz') return
      const header = req.headers.authorization ?? ''
      if (httpToken && header.startsWith('Bearer ') && safeEqual(header.slice(7), httpToken)) return
      if (httpAuth && header.startsWith('Basic ')) {
        const [user, ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')
        if (safeEqual(user ?? '', httpAuth.user) && safeEqual(rest.join(':'), httpAuth.pass)) return
      }
      throw new AppError('UNAUTHORIZED', 'authentication required')
    })
  }

  // Read-your-writes: what the API answers about messages includes their indexed summaries, so it
  // first lets the indexer catch up with mail committed before the request (bounded; see settle).
  // The event stream, the OpenAPI document and the metrics do not wait.
  const settle = deps.settle
  if (settle) {
    app.addHook('preHandler', async (req) => {
      const path = req.url.split('?')[0]!
      if ((path.startsWith('/api/') || path.startsWith('/view/')) && path !== '/api/v1/events' && path !== '/api/events' && path !== '/api/v1/openapi.json') {
        await settle()
      }
    })
  }

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'holdmail API',
        description: "Capture MTA API, compatible with Mailpit's API v1 for the endpoints mail-sink clients use",
        version: '1',
      },
    },
  })

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } })
  })

  // Mailpit's websocket stream; clients send nothing but pings, so frames from them stay small.
  await app.register(fastifyWebsocket, { options: { maxPayload: 4096 } })
  for (const routes of [infoRoutes, messagesRoutes, messageRoutes, tagsRoutes, viewRoutes, exportRoutes, analysisRoutes, metricsRoutes, spamRoutes, sendRoutes, webuiRoutes, chaosRoutes, healthRoutes, websocketRoutes, thumbRoutes]) {
    await app.register(async (scope) => routes(scope, deps))
  }
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  if (existsSync(join(deps.webRoot, 'index.html'))) {
    await app.register(fastifyStatic, { root: deps.webRoot, prefix: '/', index: 'index.html', wildcard: false })
    // Mailpit's UI URLs (/search?q=, /view/{ID}) are client-side routes of the same page.
    const page = (_req: unknown, reply: { sendFile: (f: string) => unknown }) => reply.sendFile('index.html')
    app.get('/search', { schema: { hide: true } }, page as never)
    app.get('/view/:ID', { schema: { hide: true } }, page as never)
    app.get('/stats', { schema: { hide: true } }, page as never)
    app.get('/backscatter', { schema: { hide: true } }, page as never)
  }
  return app
}
