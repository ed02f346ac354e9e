import { randomBytes } from 'node:crypto'
import { userInfo } from 'node:os'
import { loadConfig, prepareDbPath } from '../config/index.js'
import { AppError } from '../errors.js'
import { readHeaders, toAddresses } from '../mail/index.js'
import { createMessageStore, type Envelope } from '../store/index.js'
import { simpleParser } from 'mailparser'

// `holdmail sendmail`: a sendmail-compatible command for applications that pipe mail to a program
// (PHP's sendmail_path, cron, mail(1)). The message goes straight into the store, as a local
// submission (listener "cli"); nothing is sent anywhere. A running server picks it up on its
// next index pass. Flags understood: recipients as arguments, -t, -f sender, -i / -oi; the rest of
// sendmail's flags (-F, -o..., -bm) are accepted and ignored, as most sinks do.

export const EX_USAGE = 64
export const EX_TEMPFAIL = 75

export interface SendmailArgs {
  recipients: string[]
  fromHeaders: boolean
  sender: string | null
  ignoreDots: boolean
  db: string | null
}

export function parseSendmailArgs(argv: readonly string[]): SendmailArgs {
  const out: SendmailArgs = { recipients: [], fromHeaders: false, sender: null, ignoreDots: false, db: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--db') out.db = argv[++i] ?? null
    else if (a.startsWith('--db=')) out.db = a.slice(5)
    else if (a === '-t') out.fromHeaders = true
    else if (a === '-i' || a === '-oi') out.ignoreDots = true
    else if (a === '-f' || a === '-r') out.sender = argv[++i] ?? ''
    else if (/^-[fr]./.test(a)) out.sender = a.slice(2)
    else if (a === '-F' || a === '-o' || a === '-B' || a === '-N' || a === '-R' || a === '-V' || a === '-X') i++ // flag with a value
    else if (a.startsWith('-')) continue
    else out.recipients.push(...a.split(',').map((r) => r.trim()).filter(Boolean))
  }
  return out
}

/** sendmail without -i ends the message at a line holding a single dot. */
function cutAtDot(raw: Buffer): Buffer {
  const m = /(^|\n)\.\r?\n/.exec(raw.toString('latin1'))
  return m ? raw.subarray(0, m.index + m[1]!.length) : raw
}

export interface SendmailResult {
  id: string
  /** The database file written to, so the caller can say where the message went. */
  dbPath: string
}

export async function runSendmail(argv: readonly string[], stdin: Buffer, env: Readonly<Record<string, string | undefined>>): Promise<SendmailResult> {
  const args = parseSendmailArgs(argv)
  const config = loadConfig(args.db ? ['--db', args.db] : [], env)
  const dbPath = prepareDbPath(config.dbPath)
  const raw = args.ignoreDots ? stdin : cutAtDot(stdin)
  const recipients = [...args.recipients]
  if (args.fromHeaders) {
    const parsed = await simpleParser(raw, { skipTextToHtml: true, skipHtmlToText: true }).catch(() => null)
    if (parsed) recipients.push(...[parsed.to, parsed.cc, parsed.bcc].flatMap((v) => toAddresses(v).map((a) => a.Address)))
  }
  if (recipients.length === 0) throw new AppError('BAD_REQUEST', 'no recipients: give them as arguments or use -t')
  const fromHeader = readHeaders(raw).find((h) => h.name.toLowerCase() === 'from')?.value ?? ''
  const sender = args.sender ?? (/<([^>]*)>/.exec(fromHeader)?.[1] || fromHeader.trim() || `${userInfo().username}@localhost`)
  const envelope: Envelope = {
    receivedAt: Date.now(),
    listener: 'cli',
    clientIp: '127.0.0.1',
    clientPort: 0,
    ipSource: 'connection',
    relayIp: null,
    relayPort: null,
    helo: 'localhost',
    clientHostname: null,
    tls: null,
    authUser: userInfo().username,
    mailFrom: sender,
    mailFromParams: {},
    rcptTo: [...new Set(recipients)].map((address) => ({ address, params: {} })),
    connectionId: randomBytes(8).toString('hex'),
    transaction: 1,
    pregreet: false,
    tags: config.listenerTag ? [config.listenerTag] : [],
  }
  const store = createMessageStore(config.dbPath)
  try {
    return { id: (await store.insert(raw, envelope)).id, dbPath }
  } finally {
    await store.close()
  }
}
