// pino writes JSON; on a terminal a person reads the log, so each line is shown as
// "HH:MM:SS LEVEL message key=value ..." instead. Piped or redirected output stays JSON.

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }

/** A field shown as text: strings as they are, anything else as JSON. */
const text = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v))

export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const { time, level, msg, pid: _pid, hostname: _host, err, ...rest } = entry
  const clock = typeof time === 'number' ? new Date(time).toISOString().slice(11, 19) : ''
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${text(v)}`)
  const error = err && typeof err === 'object' && 'message' in err ? ` err=${text(err.message)}` : ''
  const levelName = typeof level === 'number' ? (LEVELS[level] ?? String(level)) : text(level)
  return `${clock} ${levelName.padEnd(5)} ${text(msg)}${fields.length ? ' ' + fields.join(' ') : ''}${error}\n`
}

export function terminalDestination(out: NodeJS.WriteStream): { write(line: string): void } {
  return { write: (line) => void out.write(formatLogLine(line)) }
}
