#!/usr/bin/env node
// Entry point: read flags and env, build the config, wire the modules, stop on signals.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { helpText, loadConfig, PACKAGE_ROOT, prepareDbPath } from '../config/index.js'
import { createDnsResolver, lintSpf } from '../mail/analysis/index.js'
import { AppError } from '../errors.js'
import { terminalDestination } from './log-destination.js'
import { EX_TEMPFAIL, EX_USAGE, runSendmail } from './sendmail.js'
import { IMPORT_USAGE, runImport } from './import.js'
import { EXPORT_USAGE, runExport } from './export.js'
import { COMPACT_USAGE, runCompact } from './compact.js'
import { startHoldmail } from './start-holdmail.js'

// The longest a stop may take before the process exits anyway (code 1): SMTP sessions get up to
// 8 s (SHUTDOWN_DRAIN_MS in src/smtp) to finish the message they are sending, then HTTP requests
// in flight, the indexer and the writer's last commit follow.
const SHUTDOWN_GRACE_MS = 20_000

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host)

async function serve(argv: string[]): Promise<void> {
  const config = loadConfig(argv, process.env)
  // An unusable --db fails here with one line, before any listener or the store starts.
  const dbFile = prepareDbPath(config.dbPath)
  const logger = pino(
    { level: config.logLevel, base: { pid: process.pid } },
    process.stdout.isTTY ? terminalDestination(process.stdout) : process.stdout,
  )
  const running = await startHoldmail(config, { logger, prettyLogs: process.stdout.isTTY === true })
  const url = (a: { address: string; port: number }): string => (a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`)
  process.stdout.write(`holdmail SMTP listening on ${url(running.smtp)}\n`)
  if (running.smtps) process.stdout.write(`holdmail SMTPS listening on ${url(running.smtps)}\n`)
  if (running.lmtp) process.stdout.write(`holdmail LMTP listening on ${url(running.lmtp)}\n`)
  process.stdout.write(`holdmail HTTP listening on http://${url(running.http)}\n`)
  process.stdout.write(`holdmail database ${dbFile}\n`)
  if (!isLoopback(config.http.host) && !config.httpAuth && !config.httpToken) {
    logger.warn({ http: config.http.host }, 'the UI and API are reachable beyond this machine without --http-auth or --http-token')
  }

  // SIGTERM and Ctrl-C: no new SMTP/LMTP connection from now on (idle sessions get 421 4.3.2),
  // messages being received get their reply, then event streams and HTTP close and the writer
  // commits what it holds; exit 0. A second Ctrl-C ends the process at once (the default action).
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'stopping')
    const force = setTimeout(() => {
      logger.error({ ms: SHUTDOWN_GRACE_MS }, 'stop did not finish in time; exiting')
      process.exit(1)
    }, SHUTDOWN_GRACE_MS)
    force.unref()
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'stop failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGHUP', () => running.reloadRoutes())
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.once('SIGTERM', () => shutdown('SIGTERM'))
}

/** `holdmail spf-lint <domain | "v=spf1 ...">`: exit 0 when clean, 2 when there are errors. */
async function spfLint(args: string[]): Promise<void> {
  const target = args.filter((a) => !a.startsWith('--')).join(' ').trim()
  if (!target) throw new AppError('BAD_CONFIG', 'usage: holdmail spf-lint <domain | "v=spf1 ...">')
  const dnsFlag = args.find((a) => a.startsWith('--dns-server='))
  const config = loadConfig(dnsFlag ? [dnsFlag] : [], process.env)
  const result = await lintSpf(target, createDnsResolver({ server: config.dnsServer }))
  process.stdout.write(`${result.Domain || '(literal record)'}: ${result.Record || '(no record)'}\n`)
  process.stdout.write(`DNS-querying terms: ${result.Lookups}/10, void lookups: ${result.VoidLookups}/2\n`)
  for (const p of result.Problems) process.stdout.write(`${p.Severity.padEnd(7)} ${p.Term ? p.Term + ': ' : ''}${p.Message}\n`)
  if (result.Problems.length === 0) process.stdout.write('no problems found\n')
  process.exitCode = result.Problems.some((p) => p.Severity === 'error') ? 2 : 0
}

async function sendmail(args: string[]): Promise<void> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  try {
    const { id, dbPath } = await runSendmail(args, Buffer.concat(chunks), process.env)
    process.stderr.write(`holdmail: stored as ${id} in ${dbPath} (never delivered)\n`)
  } catch (err) {
    const usage = err instanceof AppError && err.code === 'BAD_REQUEST'
    process.stderr.write(`holdmail sendmail: ${(err as Error).message}\n`)
    process.exit(usage ? EX_USAGE : EX_TEMPFAIL)
  }
}

/** The package's own version, read from the package.json beside src/ and dist/. */
function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8'))
  return pkg && typeof pkg === 'object' && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown'
}

async function main(): Promise<void> {
  const [command = 'serve', ...rest] = process.argv.slice(2)
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`holdmail ${version()}\n`)
    return
  }
  const usages: Record<string, string> = { import: IMPORT_USAGE, export: EXPORT_USAGE, compact: COMPACT_USAGE }
  const usage = usages[command]
  if (usage !== undefined && rest.includes('--help')) {
    process.stdout.write(usage + '\n')
    return
  }
  if (command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(helpText() + '\n')
    return
  }
  if (command === 'serve') return serve(rest)
  if (command === 'spf-lint') return spfLint(rest)
  if (command === 'sendmail') return sendmail(rest)
  if (command === 'import') return void (process.exitCode = await runImport(rest, process.env, process))
  if (command === 'export') return void (process.exitCode = await runExport(rest, process.env, process))
  if (command === 'compact') return void (process.exitCode = await runCompact(rest, process.env, process))
  if (command.startsWith('--')) return serve([command, ...rest])
  throw new AppError('BAD_CONFIG', `unknown command "${command}" (see --help)`)
}

main().catch((err: unknown) => {
  // Start-up problems: one clear line, exit 1.
  const message = err instanceof AppError ? err.message : err instanceof Error ? err.message : String(err)
  process.stderr.write(`holdmail: ${message}\n`)
  process.exit(1)
})
