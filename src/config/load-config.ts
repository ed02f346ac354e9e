import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { isIP } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { OPTIONS } from './options.js'
import { AppError } from '../errors.js'
import { parseCidrList, type Cidr } from '../net/index.js'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export interface ListenAddress {
  host: string
  port: number
}

export interface Config {
  smtp: ListenAddress
  lmtp: ListenAddress | null
  smtps: ListenAddress | null
  http: ListenAddress
  hostname: string
  dbPath: string // ':memory:' in tests
  tls: { certFile: string; keyFile: string } | null // null: generate a self-signed pair
  maxMessageBytes: number
  maxRecipients: number
  trustedRelays: readonly Cidr[]
  dnsServer: ListenAddress | null
  authChecks: boolean
  httpAuth: { user: string; pass: string } | null
  httpToken: string
  maxMessages: number
  maxAgeMs: number
  greetDelayMs: number
  routesFile: string
  listenerTag: string
  logLevel: LogLevel
  maxConnections: number // 0: no limit
  maxConnectionsPerIp: number // 0: no limit
  dataTimeoutMs: number // 0: no deadline
  idleTimeoutMs: number // 0: no deadline
  maxDataMemoryBytes: number // 0: no budget
  enableChaos: boolean
  /** Host header names (lowercase, no port) accepted besides loopback ones when HTTP auth is off. */
  httpAllowedHosts: readonly string[]
  /** --compression: 0 (store raw bytes as received) to 3 (see store/raw-codec.ts). */
  compression: number
  /** SpamAssassin's spamd to score stored messages with; null: not scored. */
  spamd: ListenAddress | null
  /** Where each stored message's summary is posted ('' = no webhook). */
  webhookUrl: string
  tagsPlusAddresses: boolean
  tagsUsername: boolean
}

/**
 * The folder of the holdmail package (this file is src/config/ or dist/config/ inside it). The
 * default database lives in its data/ folder, so `holdmail serve` and `holdmail sendmail` use the
 * same file from whatever directory they are started (a relative default made sendmail write a
 * new database next to the caller). A per-user data directory was the alternative; the package's
 * data/ keeps DESIGN.md's `data/holdmail.db` contract and the clone as the one place to look.
 */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

function isHttpUrl(value: string): boolean {
  try {
    return /^https?:$/.test(new URL(value).protocol)
  } catch {
    return false
  }
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']

function parseAddress(name: string, value: string): ListenAddress {
  // host:port, [v6]:port, or a bare port (loopback implied, the safe default)
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value)
  if (!m) throw new AppError('BAD_CONFIG', `--${name}: expected host:port, got "${value}"`)
  const host = m[1] || m[2] || '127.0.0.1'
  const port = Number(m[3])
  if (port > 65535) throw new AppError('BAD_CONFIG', `--${name}: port ${port} is out of range`)
  return { host, port }
}

function parseBytes(name: string, value: string): number {
  const m = /^(\d+)\s*([kmg]?)i?b?$/i.exec(value.trim())
  if (!m) throw new AppError('BAD_CONFIG', `--${name}: expected a size like 52428800 or 50m, got "${value}"`)
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g']
  return Number(m[1]) * unit
}

function parseCount(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new AppError('BAD_CONFIG', `--${name}: expected a whole number, got "${value}"`)
  return Number(value)
}

export function parseDuration(name: string, value: string): number {
  if (value === '') return 0
  const m = /^(\d+)\s*(ms|s|m|h|d|w)?$/.exec(value.trim())
  if (!m) throw new AppError('BAD_CONFIG', `--${name}: expected a duration like 7d or 12h, got "${value}"`)
  const unit = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[(m[2] ?? 's') as 'ms']
  return Number(m[1]) * unit
}

/** --compression levels, as Mailpit's: 0 off, 1 fastest ... 3 smallest (store/raw-codec.ts maps them to zstd levels). */
export const MAX_COMPRESSION = 3

function parseCompression(value: string): number {
  const n = /^\d$/.test(value.trim()) ? Number(value.trim()) : NaN
  if (!(n <= MAX_COMPRESSION)) throw new AppError('BAD_CONFIG', `--compression: expected 0 (off) to ${MAX_COMPRESSION}, got "${value}"`)
  return n
}

/** Flags beat environment variables, which beat defaults. Pure: the caller passes argv and env. */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Config {
  const raw = new Map<string, string>()
  const defaulted = new Set<string>()
  for (const o of OPTIONS) {
    const fromEnv = env[o.env]
    raw.set(o.flag, fromEnv !== undefined ? fromEnv : o.default)
    if (fromEnv === undefined) defaulted.add(o.flag)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) throw new AppError('BAD_CONFIG', `unexpected argument "${arg}" (see --help)`)
    const eq = arg.indexOf('=')
    const flag = arg.slice(2, eq === -1 ? undefined : eq)
    const spec = OPTIONS.find((o) => o.flag === flag)
    if (!spec) throw new AppError('BAD_CONFIG', `unknown option --${flag} (see --help)`)
    defaulted.delete(flag)
    if (spec.value === null) {
      raw.set(flag, eq === -1 ? 'true' : arg.slice(eq + 1))
      continue
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1)
    if (value === undefined) throw new AppError('BAD_CONFIG', `--${flag} needs a value (${spec.value})`)
    raw.set(flag, value)
  }
  const get = (flag: string): string => raw.get(flag) ?? ''
  const optionalAddress = (flag: string): ListenAddress | null => (get(flag) ? parseAddress(flag, get(flag)) : null)

  const logLevel = get('log-level') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new AppError('BAD_CONFIG', `--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`)
  }
  const certFile = get('tls-cert')
  const keyFile = get('tls-key')
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new AppError('BAD_CONFIG', '--tls-cert and --tls-key must be given together')
  }
  const httpAuth = get('http-auth')
  if (httpAuth && !httpAuth.includes(':')) {
    throw new AppError('BAD_CONFIG', '--http-auth: expected user:pass')
  }
  const dnsServer = optionalAddress('dns-server')
  if (dnsServer && !isIP(dnsServer.host)) {
    throw new AppError('BAD_CONFIG', `--dns-server: expected an IP address and port, got "${get('dns-server')}"`)
  }
  const boolSwitch = (flag: string): boolean => /^(1|true|yes|on)$/i.test(get(flag))
  const maxRecipients = parseCount('max-recipients', get('max-recipients'))
  const maxMessageBytes = parseBytes('max-message-size', get('max-message-size'))
  const maxDataMemoryBytes = parseBytes('max-data-memory', get('max-data-memory'))
  if (maxDataMemoryBytes > 0 && maxDataMemoryBytes < maxMessageBytes) {
    // a message the size limit allows would never fit in memory, and its sender would retry forever
    throw new AppError('BAD_CONFIG', '--max-data-memory must be at least --max-message-size (or 0 for no budget)')
  }
  if (maxRecipients < 1) throw new AppError('BAD_CONFIG', '--max-recipients must be at least 1')
  const webhookUrl = get('webhook-url')
  if (webhookUrl && !isHttpUrl(webhookUrl)) {
    throw new AppError('BAD_CONFIG', `--webhook-url: expected an http:// or https:// URL, got "${webhookUrl}"`)
  }

  return Object.freeze({
    smtp: parseAddress('smtp', get('smtp')),
    lmtp: optionalAddress('lmtp'),
    smtps: optionalAddress('smtps'),
    http: parseAddress('http', get('http')),
    hostname: get('hostname'),
    // The default is relative to the package; a path the user gives is relative to where they are.
    dbPath: defaulted.has('db') ? join(PACKAGE_ROOT, get('db')) : get('db'),
    tls: certFile ? { certFile, keyFile } : null,
    maxMessageBytes,
    maxRecipients,
    trustedRelays: parseCidrList('trusted-relays', get('trusted-relays')),
    dnsServer,
    authChecks: !boolSwitch('no-auth-checks'),
    httpAuth: httpAuth
      ? { user: httpAuth.slice(0, httpAuth.indexOf(':')), pass: httpAuth.slice(httpAuth.indexOf(':') + 1) }
      : null,
    httpToken: get('http-token'),
    maxMessages: parseCount('max-messages', get('max-messages')),
    maxAgeMs: parseDuration('max-age', get('max-age')),
    greetDelayMs: parseCount('greet-delay', get('greet-delay')),
    routesFile: get('routes'),
    listenerTag: get('listener-tag'),
    logLevel,
    maxConnections: parseCount('max-connections', get('max-connections')),
    maxConnectionsPerIp: parseCount('max-connections-per-ip', get('max-connections-per-ip')),
    dataTimeoutMs: parseDuration('data-timeout', get('data-timeout')),
    idleTimeoutMs: parseDuration('idle-timeout', get('idle-timeout')),
    maxDataMemoryBytes,
    enableChaos: boolSwitch('enable-chaos'),
    // Names as Host carries them, compared without the port: "[::1]:8025" and "mail.test:8025" work too.
    httpAllowedHosts: get('http-allowed-hosts')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .map((h) => (h.startsWith('[') ? h.slice(1, h.indexOf(']')) : isIP(h) === 6 ? h : h.replace(/:\d+$/, '')))
      .filter((h) => h !== ''),
    compression: parseCompression(get('compression')),
    spamd: optionalAddress('spamd'),
    webhookUrl,
    tagsPlusAddresses: boolSwitch('tags-plus-addresses'),
    tagsUsername: boolSwitch('tags-username'),
  })
}

/**
 * Creates the database's folder one level at a time and checks it can hold the file, so that a
 * path that cannot be created fails at start-up with one line naming the flag. (A recursive
 * mkdir under /proc loops instead of failing.) ':memory:' and SQLite URIs are left to SQLite.
 */
export function prepareDbPath(dbPath: string): string {
  if (dbPath === ':memory:' || dbPath === '' || dbPath.startsWith('file:')) return dbPath
  const file = resolve(dbPath)
  const fail = (what: string, err?: unknown): never => {
    const code = err instanceof Error && 'code' in err ? ` (${String(err.code)})` : ''
    throw new AppError('BAD_CONFIG', `--db ${dbPath}: ${what}${code}`)
  }
  const missing: string[] = []
  let dir = dirname(file)
  for (;;) {
    let isDir: boolean
    try {
      isDir = statSync(dir).isDirectory()
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) fail(`cannot read folder ${dir}`, err)
      missing.unshift(dir)
      const parent = dirname(dir)
      if (parent === dir) fail(`no such folder ${dir}`)
      dir = parent
      continue
    }
    if (!isDir) fail(`${dir} is not a folder`)
    break
  }
  for (const d of missing) {
    try {
      mkdirSync(d)
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) fail(`cannot create folder ${d}`, err)
    }
  }
  try {
    accessSync(dirname(file), constants.W_OK)
  } catch (err) {
    fail(`folder ${dirname(file)} is not writable`, err)
  }
  try {
    if (statSync(file).isDirectory()) fail(`${file} is a folder, not a database file`)
  } catch (err) {
    if (err instanceof AppError) throw err
  }
  return file
}
