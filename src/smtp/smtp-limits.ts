import { readFileSync } from 'node:fs'
import { ipToBigInt } from '../config/index.js'

// Process-wide limits of the SMTP side, shared by every listener (SMTP, SMTPS, LMTP): open
// connections in total and per client, and the DATA bytes held in memory by all sessions together.
// One object is created at start and handed to each listener, so the limits hold for the process
// and not once per listener.

export const DEFAULT_MAX_CONNECTIONS = 1000
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 50
export const DEFAULT_MAX_DATA_MEMORY_BYTES = 256 * 1024 * 1024
// File descriptors kept for everything that is not an SMTP session: the HTTP server and its
// clients, the SQLite files of every thread (database, -wal, -shm each), DNS sockets, the TLS
// certificate, stdio and Node's own. Node raises the soft RLIMIT_NOFILE to the hard limit when it
// starts (node.cc PlatformInit), and it has no setrlimit, so the hard limit is what there is: when
// it is too low, the SMTP side takes fewer connections rather than starve the rest.
export const FD_RESERVE = 256
// IPv6 clients are counted per /64: one host usually owns a whole /64 and could otherwise open
// 50 connections from each of its 2^64 addresses.
const IPV6_CLIENT_PREFIX = 64

export type AdmitRefusal = 'total' | 'per-ip'

export interface ConnectionSlot {
  /** Gives the slot back (when the socket is closed); calling it twice is harmless. */
  release(): void
}

export interface SmtpLimits {
  /** The limit in force: --max-connections, lowered when the descriptor limit leaves less room. */
  readonly maxConnections: number
  readonly maxConnectionsPerIp: number
  readonly maxDataBytes: number
  /** Set when maxConnections was lowered because of the descriptor limit (for a start-up warning). */
  readonly fdNotice: string | null
  /** Takes a slot for a new connection from `ip`, or says which limit it would exceed. */
  admit(ip: string, exemptPerIp: boolean): ConnectionSlot | AdmitRefusal
  readonly openConnections: number
  /** Reserves room for `bytes` more DATA bytes in memory; false when the budget has no room. */
  reserveData(bytes: number): boolean
  releaseData(bytes: number): void
  readonly dataBytesHeld: number
}

export interface SmtpLimitsOptions {
  maxConnections?: number
  maxConnectionsPerIp?: number
  maxDataBytes?: number
  /** The process's soft RLIMIT_NOFILE; read from /proc/self/limits when not given (null: unknown). */
  fdLimit?: number | null
}

/** The soft limit on open files, from /proc/self/limits (Linux); null where that is not readable. */
export function readFdLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0]
    if (!soft) return null
    return soft === 'unlimited' ? Infinity : Number(soft) || null
  } catch {
    return null
  }
}

/** The key a client is counted under: its IPv4 address, or its IPv6 /64. */
export function clientKey(ip: string): string {
  const n = ipToBigInt(ip)
  if (!n) return ip
  if (n.family === 4) return 'v4:' + n.value.toString(16)
  return 'v6:' + (n.value >> BigInt(128 - IPV6_CLIENT_PREFIX)).toString(16)
}

export function createSmtpLimits(opts: SmtpLimitsOptions = {}): SmtpLimits {
  const requested = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  const maxConnectionsPerIp = opts.maxConnectionsPerIp ?? DEFAULT_MAX_CONNECTIONS_PER_IP
  const maxDataBytes = opts.maxDataBytes ?? DEFAULT_MAX_DATA_MEMORY_BYTES
  const fdLimit = opts.fdLimit === undefined ? readFdLimit() : opts.fdLimit
  let maxConnections = requested
  let fdNotice: string | null = null
  if (fdLimit !== null && fdLimit !== Infinity && requested > fdLimit - FD_RESERVE) {
    maxConnections = Math.max(1, fdLimit - FD_RESERVE)
    fdNotice =
      `the open-file limit is ${fdLimit} (ulimit -n); SMTP takes at most ${maxConnections} connections ` +
      `instead of --max-connections ${requested}, keeping ${FD_RESERVE} descriptors for HTTP and the database`
  }

  let open = 0
  const perClient = new Map<string, number>()
  let held = 0

  return {
    maxConnections,
    maxConnectionsPerIp,
    maxDataBytes,
    fdNotice,
    get openConnections() {
      return open
    },
    get dataBytesHeld() {
      return held
    },
    admit(ip, exemptPerIp) {
      if (maxConnections > 0 && open >= maxConnections) return 'total'
      const key = clientKey(ip)
      const mine = perClient.get(key) ?? 0
      if (!exemptPerIp && maxConnectionsPerIp > 0 && mine >= maxConnectionsPerIp) return 'per-ip'
      open++
      perClient.set(key, mine + 1)
      let released = false
      return {
        release() {
          if (released) return
          released = true
          open--
          const n = (perClient.get(key) ?? 1) - 1
          if (n > 0) perClient.set(key, n)
          else perClient.delete(key)
        },
      }
    },
    reserveData(bytes) {
      if (maxDataBytes > 0 && held + bytes > maxDataBytes) return false
      held += bytes
      return true
    },
    releaseData(bytes) {
      held = Math.max(0, held - bytes)
    },
  }
}
