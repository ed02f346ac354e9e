import { connect, type Socket } from 'node:net'

/**
 * A line-oriented raw SMTP client that can pick its local address (127.0.0.x), for tests of
 * per-client limits; the rest mirrors test/helpers' RawSmtp.
 */
export class RawClient {
  private buffer = ''
  private waiters: (() => void)[] = []
  readonly lines: string[] = []
  /** Resolves when the server has closed the connection (end or close). */
  readonly ended: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.buffer += chunk
      let i: number
      while ((i = this.buffer.indexOf('\r\n')) !== -1) {
        this.lines.push(this.buffer.slice(0, i))
        this.buffer = this.buffer.slice(i + 2)
      }
      this.wake()
    })
    socket.on('error', () => this.wake())
    this.ended = new Promise((resolve) => {
      socket.once('end', () => resolve())
      socket.once('close', () => resolve())
    })
    void this.ended.then(() => this.wake())
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  static async open(port: number, opts: { localAddress?: string } = {}): Promise<RawClient> {
    const socket = connect({ port, host: '127.0.0.1', localAddress: opts.localAddress })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new RawClient(socket)
  }

  get closed(): boolean {
    return this.socket.destroyed || this.socket.readableEnded
  }

  /** The next complete reply (multi-line joined with \n); throws if the peer closes first. */
  async reply(): Promise<string> {
    const parts: string[] = []
    for (;;) {
      while (this.lines.length === 0) {
        if (this.closed) throw new Error('connection closed; got: ' + parts.join('\n'))
        await new Promise<void>((r) => this.waiters.push(r))
      }
      const line = this.lines.shift()!
      parts.push(line)
      if (!/^\d{3}-/.test(line)) return parts.join('\n')
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data)
  }

  async command(line: string): Promise<string> {
    this.write(line + '\r\n')
    return this.reply()
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Waits, one event-loop turn at a time, until `cond` holds (state the server updates on its own events). */
export async function until(cond: () => boolean, what: string, maxTurns = 200_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return
    await new Promise((r) => setImmediate(r))
  }
  throw new Error('never happened: ' + what)
}
