import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import type { SMTPServerDataStream } from 'smtp-server'
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js'
import { inAnyCidr, normalizeIp, type Cidr } from '../config/index.js'
import { AppError } from '../errors.js'
import { clientFromReceived } from '../mail/index.js'
import { LOW_DISK_SPACE, type Envelope, type MessageStore, type Recipient, type StoredMessage } from '../store/index.js'
import { CaptureServer, MEMORY_FULL, type CaptureAddress, type CaptureSession, type RejectReason } from './capture-server.js'
import { createSmtpLimits, type SmtpLimits } from './smtp-limits.js'
import { createSmtpChaos, type ChaosStage, type ChaosTriggers, type SmtpChaos } from './smtp-chaos.js'

export type ListenerKind = 'smtp' | 'smtps' | 'lmtp'

export interface SmtpListenerOptions {
  kind: ListenerKind
  host: string
  port: number
  hostname: string
  maxMessageBytes: number
  maxRecipients: number
  trustedRelays: readonly Cidr[]
  greetDelayMs: number
  tls: { key: string | Buffer; cert: string | Buffer }
  store: MessageStore
  logger: Logger
  /** Tags for a message's envelope, from the listener tag and the route table. */
  tagsFor?: (envelope: Envelope) => string[]
  onStored?: (message: StoredMessage) => void
  /**
   * Connection limits and the DATA memory budget. One object for all listeners of the process
   * (createSmtpLimits); a listener without one gets its own with the defaults.
   */
  limits?: SmtpLimits
  /** Deadline for the whole of DATA (default DEFAULT_DATA_TIMEOUT_MS; 0: none). */
  dataTimeoutMs?: number
  /** Deadline for each command once the client has our reply (default DEFAULT_IDLE_TIMEOUT_MS; 0: none). */
  idleTimeoutMs?: number
  /** Called once for each command answered with 552 (size) or 452 (recipients, memory). */
  onRejected?: (reason: RejectReason) => void
  /**
   * Mailpit's chaos triggers, shared by all listeners (createSmtpChaos); without one the listener
   * has its own, enabled when `enableChaos` is set (--enable-chaos).
   */
  chaos?: SmtpChaos
  enableChaos?: boolean
}

// RFC 5321 §4.5.3.2.6 has the client wait 10 minutes for the reply to the final dot; a sender
// that needs longer than that to send the message itself is holding a session open, not mailing.
export const DEFAULT_DATA_TIMEOUT_MS = 10 * 60_000
// RFC 5321 §4.5.3.2.7: a server should wait at least 5 minutes for the next command.
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000
// At shutdown, how long a message being received (or being committed) may take to get its reply
// before the connection gets a 421. 8 s keeps the whole stop within the 10 s a container runtime
// (docker stop) gives before it kills the process.
export const SHUTDOWN_DRAIN_MS = 8000
// RFC 3463 4.3.2 "system not accepting network messages": the reply of every session at shutdown.
const SHUTTING_DOWN = '4.3.2'

export interface SmtpListener {
  readonly kind: ListenerKind
  /** Mailpit's PUT /api/v1/chaos; throws AppError BAD_REQUEST without --enable-chaos or for bad values. */
  setChaos(triggers: Partial<ChaosTriggers>): ChaosTriggers
  getChaos(): ChaosTriggers
  listen(): Promise<AddressInfo>
  /**
   * Stops accepting connections at once (new ones are refused), answers every idle session with
   * 421 4.3.2 and closes it; a session in DATA, or whose message is being committed, gets its reply
   * first and then the 421, or the 421 alone after `drainMs`.
   */
  close(drainMs?: number): Promise<void>
}

// XCLIENT/XFORWARD use these placeholders for "not known" (postfix XCLIENT_README).
const UNKNOWN = new Set(['[UNAVAILABLE]', '[TEMPUNAVAIL]'])
const proxyValue = (map: Map<string, string | number | false> | undefined, key: string): string | null => {
  const v = map?.get(key)
  if (v === undefined || v === false) return null
  const s = String(v)
  return UNKNOWN.has(s.toUpperCase()) ? null : s
}
const proxyAddr = (s: string | null): string | null => (s ? normalizeIp(s.replace(/^ipv6:/i, '')) : null)

function paramsOf(args: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (args && typeof args === 'object') {
    for (const [k, v] of Object.entries(args as Record<string, unknown>)) out[k.toUpperCase()] = v === true ? '' : String(v)
  }
  return out
}

export function envelopeFromSession(session: CaptureSession, listener: string): Envelope {
  const peerIp = normalizeIp(session.peerAddress ?? session.remoteAddress)
  const peerPort = session.peerPort ?? session.remotePort
  const xclientAddr = proxyAddr(proxyValue(session.xClient, 'ADDR'))
  const xforwardAddr = proxyAddr(proxyValue(session.xForward, 'ADDR'))
  const viaProxy = xclientAddr ? 'xclient' : xforwardAddr ? 'xforward' : null
  const proxyMap = viaProxy === 'xclient' ? session.xClient : session.xForward
  const mailFrom = session.envelope.mailFrom
  const heloSaid = session.heloSaid || session.hostNameAppearsAs || ''
  const tls = session.tlsOptions
  const rcptTo: Recipient[] = session.envelope.rcptTo.map((r) => ({ address: r.address, params: paramsOf(r.args) }))
  const malformed = (a: CaptureAddress | false | undefined): boolean => Boolean(a && a.malformed)
  return {
    receivedAt: Date.now(),
    listener,
    clientIp: (viaProxy ? (xclientAddr ?? xforwardAddr) : null) ?? peerIp,
    clientPort: Number(viaProxy ? proxyValue(proxyMap, 'PORT') ?? 0 : peerPort) || 0,
    ipSource: viaProxy ?? 'connection',
    relayIp: viaProxy ? peerIp : null,
    relayPort: viaProxy ? peerPort : null,
    helo: (viaProxy ? proxyValue(proxyMap, 'HELO') : null) ?? heloSaid,
    clientHostname: viaProxy ? proxyValue(proxyMap, 'NAME') : null,
    tls: session.secure && tls ? { protocol: tls.version ?? '', cipher: tls.standardName || tls.name || '' } : null,
    authUser: typeof session.user === 'string' ? session.user : (proxyValue(session.xClient, 'LOGIN') ?? null),
    mailFrom: mailFrom ? mailFrom.address : '',
    mailFromParams: mailFrom ? paramsOf(mailFrom.args) : {},
    rcptTo,
    connectionId: session.id,
    transaction: session.transaction,
    pregreet: session.pregreet === true,
    malformed: malformed(mailFrom) || session.envelope.rcptTo.some(malformed),
    tags: [],
  }
}

/**
 * Exim and sendmail pass no XCLIENT/XFORWARD: from a trusted peer that sent neither, the original client
 * is the one named by the Received field(s) the trusted relays prepended, and the envelope records it
 * as XFORWARD would have (the peer becomes the relay). The raw bytes are only read. When the chain
 * names no untrusted client (no Received field, one without a readable IP), the connection's facts stay.
 */
export function withReceivedClient(envelope: Envelope, raw: Buffer, trustedRelays: readonly Cidr[]): Envelope {
  if (envelope.ipSource !== 'connection' || !inAnyCidr(trustedRelays, envelope.clientIp)) return envelope
  const hop = clientFromReceived(raw, trustedRelays)
  if (!hop) return envelope
  return {
    ...envelope,
    clientIp: hop.ip,
    clientPort: 0, // a Received field carries no client port in the layouts read here
    ipSource: 'received',
    relayIp: envelope.clientIp,
    relayPort: envelope.clientPort,
    helo: hop.helo ?? '', // the relay's own HELO is not the client's
    clientHostname: hop.host,
  }
}

type Collected = { raw: Buffer; held: number } | { refused: 'size' | 'memory' }

/**
 * Reads DATA up to the size limit, holding its bytes against the process-wide memory budget; past
 * either limit it drops what it holds and keeps draining, so that the transaction ends cleanly
 * with a reply. The caller releases `held` once the message is committed (or failed).
 */
function collect(stream: SMTPServerDataStream, limit: number, limits: SmtpLimits): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let bytes = 0
    let held = 0
    let refused: 'size' | 'memory' | null = null
    const drop = (): void => {
      chunks.length = 0
      limits.releaseData(held)
      held = 0
    }
    stream.on('data', (chunk: Buffer) => {
      if (refused) return
      bytes += chunk.length
      if (bytes > limit) refused = 'size'
      else if (!limits.reserveData(chunk.length)) refused = 'memory'
      if (refused) return drop()
      held += chunk.length
      chunks.push(chunk)
    })
    stream.once('error', (err) => {
      drop()
      reject(err)
    })
    stream.once('end', () => {
      if (refused || stream.sizeExceeded) {
        drop()
        resolve({ refused: refused ?? 'size' })
      } else {
        resolve({ raw: Buffer.concat(chunks, bytes), held })
      }
    })
  })
}

function transientError(message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: 451 })
}

export function createSmtpListener(opts: SmtpListenerOptions): SmtpListener {
  const log = opts.logger.child({ mod: opts.kind })
  const limits = opts.limits ?? createSmtpLimits()
  const chaos = opts.chaos ?? createSmtpChaos({ enabled: opts.enableChaos === true })
  const chaosError = (stage: ChaosStage): Error | null => {
    const code = chaos.fire(stage)
    if (code === null) return null
    log.debug({ stage, code }, 'chaos trigger fired')
    return Object.assign(new Error(`Error: chaos trigger (${stage})`), { responseCode: code })
  }
  let bound: AddressInfo | null = null
  let closing: Promise<void> | null = null
  let lastStoreProblem: string | null = null

  const server = new CaptureServer({
    name: opts.hostname,
    banner: 'holdmail capture MTA: messages are stored, never delivered',
    lmtp: opts.kind === 'lmtp',
    secure: opts.kind === 'smtps',
    key: opts.tls.key,
    cert: opts.tls.cert,
    size: opts.maxMessageBytes,
    rejectOversized: true,
    maxRecipients: opts.maxRecipients,
    hideENHANCEDSTATUSCODES: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    hidePIPELINING: false,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    allowInsecureAuth: true,
    disableReverseLookup: true, // no DNS on the accept path
    logger: false,
    greetDelayMs: opts.greetDelayMs,
    trustedRelays: opts.trustedRelays,
    coalesceReplies: true,
    limits,
    dataTimeoutMs: opts.dataTimeoutMs ?? DEFAULT_DATA_TIMEOUT_MS,
    idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    onRejected: opts.onRejected,
    // Every sender, recipient and client is accepted, so say so at once: smtp-server's defaults
    // answer on the next event-loop turn, which made a pipelined MAIL/RCPT/DATA group take three
    // turns (each behind every other session's I/O) before the 354.
    onConnect(_session, callback) {
      callback()
    },
    onMailFrom(_address, _session, callback) {
      callback(chaosError('Sender'))
    },
    onRcptTo(_address, _session, callback) {
      callback(chaosError('Recipient'))
    },
    onAuth(auth, _session, callback) {
      const err = chaosError('Authentication')
      if (err) return callback(err)
      // Any credentials are accepted: a capture MTA records who claimed to be whom.
      callback(null, { user: auth.username ?? '' })
    },
    onData(stream, session, reply) {
      // Once shutdown has begun, the reply to this message is the session's last.
      const callback = (err?: Error | null, message?: string): void => {
        reply(err, message)
        if (closing) for (const c of server.connections) if (c.id === session.id) sayShuttingDown(c)
      }
      const captureSession = session as CaptureSession
      collect(stream, opts.maxMessageBytes, limits)
        .then(async (got) => {
          if ('refused' in got) {
            if (got.refused === 'size') {
              log.warn({ cid: session.id, limit: opts.maxMessageBytes }, 'oversize message refused')
              // smtp-server answers 552 5.3.4 itself (rejectOversized); nothing is stored.
              callback(Object.assign(new Error('Error: message exceeds fixed maximum message size'), { responseCode: 552 }))
            } else {
              log.warn({ cid: session.id, budget: limits.maxDataBytes }, 'message refused: DATA memory budget exhausted')
              opts.onRejected?.('memory')
              callback(Object.assign(new Error(`${MEMORY_FULL} Error: too much mail in transit, try again later`), { responseCode: 452 }))
            }
            return
          }
          const { raw, held } = got
          const envelope = withReceivedClient(envelopeFromSession(captureSession, opts.kind), raw, opts.trustedRelays)
          envelope.tags = opts.tagsFor?.(envelope) ?? []
          let message: StoredMessage
          try {
            message = await opts.store.insert(raw, envelope, { handOver: true })
          } catch (err) {
            // A lasting failure (the database file deleted, a full disk) would log a line per
            // message: it is logged once, and again when it changes or after a message got through.
            const problem = err instanceof Error && typeof err.cause === 'string' ? err.cause : String(err)
            if (problem !== lastStoreProblem) log.error({ err, problem, cid: session.id }, 'store failed')
            else log.debug({ problem, cid: session.id }, 'store failed')
            lastStoreProblem = problem
            // RFC 5321 §4.2.3 452 and RFC 3463 4.3.1 "mail system full" for the free-space rule.
            if (problem === LOW_DISK_SPACE) {
              callback(Object.assign(new Error(`${MEMORY_FULL} Error: insufficient system storage, try again later`), { responseCode: 452 }))
            } else callback(transientError('Error: local storage failure, try again later'))
            return
          } finally {
            limits.releaseData(held)
          }
          lastStoreProblem = null
          if (log.isLevelEnabled('info')) {
            log.info(
              {
                id: message.id,
                ip: envelope.clientIp,
                helo: envelope.helo,
                tls: envelope.tls?.protocol ?? null,
                bytes: message.size, // raw itself may have been handed over to the writer thread
                from: envelope.mailFrom,
                rcpts: envelope.rcptTo.map((r) => r.address),
                ...(envelope.malformed ? { malformed: true } : {}),
              },
              'stored',
            )
          }
          opts.onStored?.(message)
          callback(null, `Ok: queued as ${message.id}`)
        })
        .catch((err: unknown) => {
          if ((err as { code?: string }).code === 'ECONNECTION') {
            // the client left (or was closed by the DATA deadline) before the final dot
            log.info({ cid: session.id }, 'connection closed during DATA; nothing stored')
          } else {
            log.error({ err, cid: session.id }, 'data stream failed')
          }
          callback(transientError('Error: could not read the message, try again later'))
        })
    },
  })
  server.on('error', (err: Error) => log.debug({ err }, 'connection error'))

  const sayShuttingDown = (c: SMTPConnection): void => {
    if (!c._closing && !c._closed) c.send(421, `${SHUTTING_DOWN} ${opts.hostname} Error: shutting down, try again later`)
  }
  // A message is in flight while its DATA is being received or its reply is awaited (the data
  // stream is set from the 354 to the reply), or while a command handler has not answered yet.
  const inFlight = (c: SMTPConnection): boolean => c._handlerPending || Boolean(c._dataStream)

  return {
    kind: opts.kind,
    setChaos: (triggers) => chaos.set(triggers),
    getChaos: () => chaos.get(),
    listen() {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => {
          reject(new AppError('BAD_CONFIG', `cannot listen for ${opts.kind} on ${opts.host}:${opts.port}: ${err.message}`))
        }
        server.server.once('error', onError)
        server.listen(opts.port, opts.host, () => {
          server.server.off('error', onError)
          bound = server.server.address() as AddressInfo
          resolve(bound)
        })
      })
    },
    close(drainMs = SHUTDOWN_DRAIN_MS) {
      closing ??= new Promise((resolve) => {
        if (!bound) return resolve()
        // The listening socket closes now; smtp-server answers any further command with a 421 and
        // calls back once every connection is gone.
        server.close(() => {
          clearTimeout(timer)
          resolve()
        })
        const timer = setTimeout(() => server.connections.forEach(sayShuttingDown), drainMs)
        timer.unref()
        for (const c of [...server.connections]) if (!inFlight(c)) sayShuttingDown(c)
      })
      return closing
    },
  }
}
