import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server'
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js'
import { inAnyCidr, type Cidr } from '../config/index.js'

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

export interface CaptureSession extends SMTPServerSession {
  pregreet?: boolean
  peerAddress?: string // the TCP peer, even after XCLIENT replaced remoteAddress
  peerPort?: number
}

export interface CaptureServerOptions extends SMTPServerOptions {
  greetDelayMs: number
  /** Write the replies of one tick with one syscall (socket cork until the next tick). */
  coalesceReplies?: boolean
  trustedRelays: readonly Cidr[]
}

class CaptureConnection extends SMTPConnection {
  private pregreet = false
  private corked = false
  private readonly peerAddress: string
  private readonly peerPort: number

  constructor(
    private readonly capture: CaptureServer,
    socket: Socket | TLSSocket,
    options?: ConstructorParameters<typeof SMTPConnection>[2],
  ) {
    super(capture, socket, options)
    this.peerAddress = this.remoteAddress
    this.peerPort = this.remotePort
  }

  override init(): void {
    const delay = this.capture.greetDelayMs
    this._setListeners(() => {
      const max = this._server.options.maxClients
      if (max && this._server.connections.size > max) {
        this.send(421, this.name + ' Too many connected clients, try again in a moment', false)
        return
      }
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
    super.send(code, data, context === 'DATA_OK' ? undefined : context)
  }
}

export class CaptureServer extends SMTPServer {
  readonly greetDelayMs: number
  readonly trustedRelays: readonly Cidr[]
  readonly coalesceReplies: boolean

  constructor(options: CaptureServerOptions) {
    const trusted = options.trustedRelays.length > 0
    super({ ...options, useXClient: trusted, useXForward: trusted })
    this.greetDelayMs = options.greetDelayMs
    this.coalesceReplies = options.coalesceReplies === true
    this.trustedRelays = options.trustedRelays
  }

  override connect(socket: Socket | TLSSocket, socketOptions?: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const connection = new CaptureConnection(this, socket, socketOptions)
    this.connections.add(connection)
    connection.on('error', (err: Error) => this._onError(err))
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data))
    connection.init()
  }
}
