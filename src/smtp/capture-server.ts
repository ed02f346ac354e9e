import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { SMTPServer, type SMTPServerAddress, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server'
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js'
import type { SMTPStream } from 'smtp-server/lib/smtp-stream.js'
import { inAnyCidr, normalizeIp, type Cidr } from '../config/index.js'
import { createSmtpLimits, type SmtpLimits } from './smtp-limits.js'

// A small subclass of smtp-server (pinned to an exact version in package.json because it
// overrides a few internals) that changes what a capture MTA needs changed:
// 1. the greeting delay: smtp-server always waits 100 ms before the 220 to catch early talkers,
//    which caps a connection-per-message client at 10 messages/s. Here it is an option, 0 by
//    default; with a delay, bytes that arrive before the greeting are kept and processed after it
//    (postscreen's "ignore" action) and the session is marked pregreet, a spam signal.
// 2. XCLIENT/XFORWARD trust by CIDR (smtp-server only matches exact addresses).
// 3. the DATA reply carries 2.0.0, as DESIGN.md's contract says, instead of 2.6.0.
// 4. optionally, the replies of one tick leave in one write (a pipelined MAIL/RCPT/DATA group got
//    three 4-byte-ish segments, each a syscall and a wake-up of the client).
// 5. connection limits (total and per client) checked when the socket is accepted, before any
//    TLS handshake, with a 421 4.7.0; a deadline for the whole of DATA and an idle deadline per
//    command that bytes trickled in one at a time do not extend (smtp-server's socket timeout
//    restarts on every byte).
// 6. any MAIL FROM / RCPT TO argument is accepted and kept as the client wrote it: smtp-server
//    refuses `<@example.net>`, `<user@.example>` or a missing `<>` with 501 and rewrites what it
//    accepts (punycode to Unicode, IPv6 literals); a capture MTA records what was said, so the
//    parser below keeps the text between the angle brackets and flags what smtp-server refused.
// 7. the HELO/EHLO argument (and XFORWARD HELO) kept as sent: smtp-server lower-cases it, and its
//    case is a fingerprint of the sending software.
// 8. a client that half-closes the connection still gets every reply it is owed (see
//    CaptureConnection.send and clientFinished below).

/** Why a command got a 552 or 452 (counted as rejected by the caller). */
export type RejectReason = 'size' | 'recipients' | 'memory'

/** smtp-server's parsed MAIL FROM / RCPT TO, with the mark for an argument it would have refused. */
export interface CaptureAddress extends SMTPServerAddress {
  malformed?: boolean
}

export interface CaptureSession extends SMTPServerSession {
  pregreet?: boolean
  peerAddress?: string // the TCP peer, even after XCLIENT replaced remoteAddress
  peerPort?: number
  heloSaid?: string // the HELO/EHLO argument as the client wrote it
}

export interface CaptureServerOptions extends SMTPServerOptions {
  greetDelayMs: number
  /** Write the replies of one tick with one syscall (socket cork until the next tick). */
  coalesceReplies?: boolean
  trustedRelays: readonly Cidr[]
  /** Connection and DATA-memory limits; share one object between all listeners of a process. */
  limits?: SmtpLimits
  /** The whole of DATA, from the 354 to the final dot (0: no deadline). */
  dataTimeoutMs?: number
  /** How long the client may take to send a complete command once it has our reply (0: none). */
  idleTimeoutMs?: number
  /** Called once per command answered with 552 or 452. */
  onRejected?: (reason: RejectReason) => void
}

// RFC 3463 codes the replies below carry: 4.7.0 "other or undefined security status" for a
// connection refused by a limit, 4.4.2 "bad connection" for a timeout, 4.3.1 "mail system full".
const TOO_MANY_CONNECTIONS = '4.7.0'
const TIMED_OUT = '4.4.2'
export const MEMORY_FULL = '4.3.1'
// A reply text that already starts with an enhanced status code is sent as it is.
const OWN_STATUS_CODE = /^[245]\.\d{1,3}\.\d{1,3} /
// A stand-in address that smtp-server accepts, used to check the parameters of a command whose
// address it refused (so that bad parameters still get smtp-server's 501).
const PROBE_ADDRESS = 'probe@holdmail.invalid'
// RFC 5321 §4.1.2 and appendix C: a source route ("@relay.example:") is accepted and ignored.
const SOURCE_ROUTE = /^@[^\s,:@]+(?:,@[^\s,:@]+)*:/
// RFC 5321 §4.1.2 Quoted-string local part (qtextSMTP and quoted-pairSMTP), which may hold spaces
// that smtp-server's whitespace split cannot take; the domain after it is checked by smtp-server.
const QUOTED_LOCAL_PART = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"@([^@]+)$/

/**
 * The path argument of MAIL FROM / RCPT TO as written: the text between `<` and `>` (or, without
 * brackets, the first word), minus a source route, and whatever follows it (the ESMTP parameters).
 * Null when the command is not `name:` or has no argument at all.
 */
export function addressArgument(name: string, command: string): { path: string; bracketed: boolean; params: string } | null {
  const colon = command.indexOf(':')
  if (colon < 0) return null
  if (command.slice(0, colon).trim().replace(/\s+/g, ' ').toUpperCase() !== name.toUpperCase()) return null
  const rest = command.slice(colon + 1).trim()
  if (rest === '') return null
  let path: string
  let params: string
  let bracketed = false
  if (rest.startsWith('<') && rest.indexOf('>') > 0) {
    const end = rest.indexOf('>')
    path = rest.slice(1, end)
    params = rest.slice(end + 1).trim()
    bracketed = true
  } else {
    const m = /^(\S+)\s*(.*)$/.exec(rest)!
    path = m[1]!.replace(/^</, '')
    params = m[2]!
  }
  return { path: path.replace(SOURCE_ROUTE, ''), bracketed, params }
}

class CaptureConnection extends SMTPConnection {
  private pregreet = false
  private corked = false
  private readonly peerAddress: string
  private readonly peerPort: number
  private heloSaid = ''
  private commandTimer: NodeJS.Timeout | null = null
  private dataTimer: NodeJS.Timeout | null = null
  private commandSeq = 0
  private rejectReportedFor = -1
  private clientFinished = false

  constructor(
    private readonly capture: CaptureServer,
    socket: Socket | TLSSocket,
    options?: ConstructorParameters<typeof SMTPConnection>[2],
  ) {
    super(capture, socket, options)
    this.peerAddress = this.remoteAddress
    this.peerPort = this.remotePort
    socket.once('close', () => this.clearTimers())
  }

  override init(): void {
    const delay = this.capture.greetDelayMs
    this._setListeners(() => {
      if (delay <= 0) {
        this.connectionReady()
        return
      }
      // Hold the client's bytes in the socket buffer until the greeting is out.
      const socket = this._socket
      const parser = this._parser
      if (parser) socket.unpipe(parser)
      socket.pause()
      const timer = setTimeout(() => {
        if (this._closing || this._closed) return
        this.pregreet = socket.readableLength > 0
        this.connectionReady(() => {
          if (parser) socket.pipe(parser)
        })
      }, delay)
      timer.unref()
    })
  }

  override _resetSession(): void {
    super._resetSession()
    const session = this.session as CaptureSession
    session.pregreet = this.pregreet
    session.peerAddress = this.peerAddress
    session.peerPort = this.peerPort
    session.heloSaid = this.heloSaidNow()
  }

  /** The HELO name as written, as long as it is still the one smtp-server holds (XCLIENT clears it). */
  private heloSaidNow(): string {
    const lower = this.hostNameAppearsAs || ''
    return this.heloSaid.toLowerCase() === lower ? this.heloSaid : lower
  }

  override _proxyCommandAllowed(command: string): boolean {
    return (
      !this._xClient.has('ADDR') &&
      inAnyCidr(this.capture.trustedRelays, this._originalRemoteAddress) &&
      this._isSupported(command)
    )
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    const socket = this._socket
    if (this.capture.coalesceReplies && !this.corked && !socket.destroyed) {
      // Replies produced in one tick (a pipelined MAIL/RCPT/DATA group) leave in one segment.
      this.corked = true
      socket.cork()
      process.nextTick(() => {
        this.corked = false
        socket.uncork()
      })
    }
    // smtp-server's own refusals, told apart by their context (a chaos trigger's 452 or 552 is not
    // one); the memory refusals are reported where they are made.
    if (context === 'MESSAGE_TOO_BIG') this.reportRejected('size')
    else if (context === 'TOO_MANY_RECIPIENTS') this.reportRejected('recipients')
    const own = typeof data === 'string' && OWN_STATUS_CODE.test(data)
    // smtp-server writes a reply only while the socket's readyState is 'open'. Once the client has
    // half-closed (FIN: it has nothing more to send, RFC 793 §3.5; the listener is allowHalfOpen),
    // readyState is 'writeOnly', yet the client still waits for the replies to what it sent. Exim
    // sends the final dot and a pipelined QUIT, then shutdown(SHUT_WR), and reads the 250 and 221;
    // without them it counts the message as not delivered (defer -18, "Remote host closed
    // connection in response to end of data") although it is stored. For that one call the socket
    // answers 'open' (an own property shadowing net.Socket's getter), so smtp-server writes.
    const halfClosed = socket.readyState === 'writeOnly' && !this._upgrading && !socket.destroyed
    const shadow = socket as unknown as { readyState: string }
    if (halfClosed) Object.defineProperty(shadow, 'readyState', { value: 'open', configurable: true })
    try {
      super.send(code, data, own ? false : context === 'DATA_OK' ? undefined : context)
    } finally {
      if (halfClosed) delete (shadow as { readyState?: string }).readyState
    }
    if (code !== 421 && !this._closing) this.armCommandTimer()
  }

  // The parser ends when the socket's readable side ends (the socket is piped into it), and
  // finishes once every command that arrived before the client's FIN has been handled, the reply
  // to a final dot included (the parser does not take the next chunk before that). With nothing
  // more to come, our side closes then; until then the half-open socket stays writable for the
  // replies (net.Socket without allowHalfOpen would end our side at the FIN, dropping them).
  override _createParser(): SMTPStream {
    const parser = super._createParser()
    parser.once('finish', () => {
      if (parser !== this._parser) return // a parser retired by STARTTLS
      this.clientFinished = true
      this.closeIfClientFinished()
    })
    return parser
  }

  // A last line without CRLF is run by the parser as it finishes; if its handler answers later,
  // the close waits for it. smtp-server calls _whenWritable once a command's handler is done.
  override _whenWritable(next: () => void): void {
    super._whenWritable(() => {
      next()
      this.closeIfClientFinished()
    })
  }

  private closeIfClientFinished(): void {
    if (!this.clientFinished || this._closing || this._closed || this._handlerPending) return
    this.close()
  }

  /** Once per command: LMTP answers one DATA with a reply per recipient. */
  reportRejected(reason: RejectReason): void {
    if (this.rejectReportedFor === this.commandSeq) return
    this.rejectReportedFor = this.commandSeq
    this.capture.onRejected?.(reason)
  }

  // RFC 5321 §4.5.3.2 lists per-command timeouts for the client; a server that waits for the next
  // command applies one of its own. smtp-server's socket timeout restarts on every byte, so a
  // client trickling a byte a minute would hold the session forever; this deadline runs from our
  // reply to the client's complete command line.
  private armCommandTimer(): void {
    const ms = this.capture.idleTimeoutMs
    if (ms <= 0) return
    if (this.commandTimer) clearTimeout(this.commandTimer)
    this.commandTimer = setTimeout(() => this.onCommandTimeout(), ms)
    this.commandTimer.unref()
  }

  private onCommandTimeout(): void {
    this.commandTimer = null
    if (this._closing || this._closed) return
    if (this._handlerPending) return this.armCommandTimer() // we owe the reply, not the client
    if (this._dataStream) return // DATA has its own deadline, and the reply to it re-arms this one
    this.send(421, `${TIMED_OUT} ${this.name} Error: no complete command within ${this.capture.idleTimeoutMs / 1000} s, closing connection`)
  }

  private clearTimers(): void {
    if (this.commandTimer) clearTimeout(this.commandTimer)
    if (this.dataTimer) clearTimeout(this.dataTimer)
    this.commandTimer = this.dataTimer = null
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    this.commandSeq++
    if (this.commandTimer) clearTimeout(this.commandTimer)
    this.commandTimer = null
    super._onCommand(command, callback)
  }

  override handler_DATA(command: Buffer, callback: () => void): void {
    const limits = this.capture.limits
    const mailFrom = this.session.envelope.mailFrom
    const declared = Number((mailFrom && mailFrom.args && mailFrom.args.SIZE) || 0) || 0 // RFC 1870 SIZE=
    if (this.session.envelope.rcptTo.length > 0 && limits.maxDataBytes > 0 && limits.dataBytesHeld + Math.max(declared, 1) > limits.maxDataBytes) {
      // The budget is held by other sessions, or the declared size does not fit in what is left:
      // refuse before the client sends the message. 452 is temporary; the client tries again later.
      this.send(452, `${MEMORY_FULL} Error: too much mail in transit, try again later`)
      this.reportRejected('memory')
      return callback()
    }
    super.handler_DATA(command, callback)
    const stream = this._dataStream
    const ms = this.capture.dataTimeoutMs
    if (!stream || ms <= 0) return
    // The whole message must arrive within the deadline, however steadily it trickles in.
    const timer = setTimeout(() => {
      this.dataTimer = null
      const parser = this._parser
      if (this._closing || this._closed || !parser || !parser._dataMode) return
      // Nothing of this message is stored: the socket closes, the data stream ends with an error
      // and the onData handler answers into a closed connection.
      this.send(421, `${TIMED_OUT} ${this.name} Error: message not received within ${ms / 1000} s, closing connection`)
    }, ms)
    timer.unref()
    this.dataTimer = timer
    stream.once('end', () => clearTimeout(timer))
    stream.once('close', () => clearTimeout(timer))
  }

  override handler_HELO(command: Buffer, callback: () => void): void {
    this.heloSaid = command.toString().trim().split(/\s+/)[1] ?? ''
    super.handler_HELO(command, callback)
    ;(this.session as CaptureSession).heloSaid = this.heloSaidNow()
  }

  override handler_EHLO(command: Buffer, callback: () => void): void {
    this.heloSaid = command.toString().trim().split(/\s+/)[1] ?? ''
    super.handler_EHLO(command, callback)
    ;(this.session as CaptureSession).heloSaid = this.heloSaidNow()
  }

  override handler_XFORWARD(command: Buffer, callback: () => void): void {
    // XFORWARD's HELO= is xtext (RFC 3461 §4); smtp-server decodes and lower-cases it.
    const m = /(?:^|\s)HELO=(\S*)/i.exec(command.toString())
    const said = m ? m[1]!.replace(/\+([0-9A-F]{2})/g, (_x, hex: string) => String.fromCharCode(parseInt(hex, 16))) : null
    super.handler_XFORWARD(command, callback)
    const stored = this._xForward.get('HELO')
    if (said !== null && typeof stored === 'string' && stored === said.toLowerCase()) {
      this._xForward.set('HELO', said)
      this.heloSaid = said
      ;(this.session as CaptureSession).heloSaid = this.heloSaidNow()
    }
  }

  override _parseAddressCommand(rawName: string, rawCommand: Buffer | string): ReturnType<SMTPConnection['_parseAddressCommand']> {
    const command = rawCommand.toString()
    const parsed = super._parseAddressCommand(rawName, command)
    const arg = addressArgument(rawName, command)
    if (!arg) return parsed
    if (parsed) {
      // The address as written (smtp-server turns punycode into Unicode and rewrites IPv6 literals).
      parsed.address = arg.path
      return parsed
    }
    // smtp-server refused it. Refused parameters stay refused; a refused address is kept as written,
    // marked malformed unless it is a quoted local part (valid, but beyond smtp-server's parser).
    const probe = super._parseAddressCommand(rawName, `${rawName}:<${PROBE_ADDRESS}>${arg.params ? ' ' + arg.params : ''}`)
    if (!probe) return false
    const quoted = arg.bracketed ? QUOTED_LOCAL_PART.exec(arg.path) : null
    const valid = quoted !== null && super._parseAddressCommand(rawName, `${rawName}:<x@${quoted[1]}>`) !== false
    const address: CaptureAddress = { ...probe, address: arg.path, ...(valid ? {} : { malformed: true }) }
    return address
  }
}

export class CaptureServer extends SMTPServer {
  readonly greetDelayMs: number
  readonly trustedRelays: readonly Cidr[]
  readonly coalesceReplies: boolean
  readonly limits: SmtpLimits
  readonly dataTimeoutMs: number
  readonly idleTimeoutMs: number
  readonly onRejected: ((reason: RejectReason) => void) | undefined
  private readonly implicitTls: boolean

  constructor(options: CaptureServerOptions) {
    const trusted = options.trustedRelays.length > 0
    const idle = options.idleTimeoutMs ?? 0
    // smtp-server's own idle timeout agrees with the command deadline (its default is 60 s).
    // allowHalfOpen: a client's FIN does not end our side; the connection closes once every
    // command it sent is answered (CaptureConnection._createParser).
    super({ ...options, allowHalfOpen: true, useXClient: trusted, useXForward: trusted, ...(idle > 0 ? { socketTimeout: idle } : {}) })
    this.greetDelayMs = options.greetDelayMs
    this.coalesceReplies = options.coalesceReplies === true
    this.trustedRelays = options.trustedRelays
    this.limits = options.limits ?? createSmtpLimits()
    this.dataTimeoutMs = options.dataTimeoutMs ?? 0
    this.idleTimeoutMs = idle
    this.onRejected = options.onRejected
    this.implicitTls = options.secure === true
  }

  // Every accepted socket passes here first, before the PROXY header or the implicit TLS handshake.
  override _acceptSocket(socket: Socket, handshake: boolean): (() => void) | false {
    const ip = normalizeIp(socket.remoteAddress ?? '')
    // Trusted relays (a postfix in front of holdmail) bring many clients' mail through one address.
    const slot = this.limits.admit(ip, inAnyCidr(this.trustedRelays, ip))
    if (typeof slot === 'string') {
      this.refuse(socket, slot)
      return false
    }
    socket.once('close', () => slot.release())
    const release = super._acceptSocket(socket, handshake)
    if (!release) slot.release()
    return release
  }

  /** Over a limit: 421 and close at once, before any session state exists. */
  private refuse(socket: Socket, why: 'total' | 'per-ip'): void {
    socket.on('error', () => {}) // the client may already be gone; nothing to report
    if (this.implicitTls) {
      // Nothing readable can be said before a TLS handshake, and doing one costs more than the refusal.
      socket.destroy()
      return
    }
    const text = why === 'total' ? 'too many connections, try again later' : 'too many connections from your address, try again later'
    socket.resume() // discard whatever the client sends, so that closing does not reset the connection
    socket.end(`421 ${TOO_MANY_CONNECTIONS} ${this.options.name ?? ''} ${text}\r\n`, () => socket.destroy())
  }

  override connect(socket: Socket | TLSSocket, socketOptions?: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const connection = new CaptureConnection(this, socket, socketOptions)
    this.connections.add(connection)
    connection.on('error', (err: Error) => this._onError(err))
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data))
    connection.init()
  }
}
