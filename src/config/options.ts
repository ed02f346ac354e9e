// The one list of `holdmail serve` options: flag parsing, environment variables, --help and the
// README table all come from it (test/config checks the README against it).

export interface OptionSpec {
  flag: string // without the leading dashes
  env: string
  value: string | null // placeholder shown in help; null for a boolean switch
  default: string
  help: string
}

const env = (flag: string): string => 'HOLDMAIL_' + flag.replace(/-/g, '_').toUpperCase()

function opt(flag: string, value: string | null, def: string, help: string): OptionSpec {
  return { flag, env: env(flag), value, default: def, help }
}

export const OPTIONS: readonly OptionSpec[] = [
  opt('smtp', 'host:port', '127.0.0.1:1025', 'SMTP listener (STARTTLS offered)'),
  opt('http', 'host:port', '127.0.0.1:8025', 'web UI and JSON API'),
  opt('db', 'path', 'data/holdmail.db', 'SQLite database file (":memory:" for a throw-away store); the default is in holdmail\'s own folder'),
  opt('lmtp', 'host:port', '', 'LMTP listener (off unless given)'),
  opt('smtps', 'host:port', '', 'implicit-TLS SMTP listener (off unless given)'),
  opt('tls-cert', 'file', '', 'PEM certificate; a self-signed one is generated next to the database when absent'),
  opt('tls-key', 'file', '', 'PEM private key for --tls-cert'),
  opt('hostname', 'name', 'holdmail.localhost', 'name used in the SMTP greeting'),
  opt('max-message-size', 'bytes', String(50 * 1024 * 1024), 'largest message accepted; bigger ones get 552 5.3.4 (suffixes k, m, g allowed)'),
  opt('max-recipients', 'n', '1000', 'recipients per message; more get 452 4.5.3'),
  opt('trusted-relays', 'CIDR,...', '', 'peers whose XCLIENT/XFORWARD and Received headers are believed'),
  opt('dns-server', 'ip:port', '', 'resolver for SPF/DKIM/DMARC lookups (system resolver when empty)'),
  opt('no-auth-checks', null, 'false', 'skip SPF/DKIM/DMARC/ARC evaluation (results say "not evaluated")'),
  opt('http-auth', 'user:pass', '', 'require HTTP basic auth for the UI and API'),
  opt('http-token', 'token', '', 'require "Authorization: Bearer <token>" for the UI and API'),
  opt('max-messages', 'n', '0', 'keep at most this many messages, pruning the oldest (0 = no limit)'),
  opt('max-age', 'duration', '', 'prune messages older than this (e.g. 7d, 12h; empty = keep forever)'),
  opt('greet-delay', 'ms', '0', 'wait before the 220 greeting; clients that talk first are recorded as pregreet'),
  opt('routes', 'file', '', 'smarttable-style rules that tag messages by sender, recipient, client IP or HELO'),
  opt('listener-tag', 'tag', '', 'tag added to every message captured by this instance'),
  opt('log-level', 'level', 'info', 'debug, info, warn, error or silent'),
  opt('max-connections', 'n', '1000', 'open SMTP/LMTP connections in total; more get 421 4.7.0 (lowered to fit the open-file limit)'),
  opt('max-connections-per-ip', 'n', '50', 'open connections per client IP (IPv6: per /64; trusted relays exempt); more get 421 4.7.0'),
  opt('data-timeout', 'duration', '10m', 'the whole of DATA must arrive within this; then 421 and nothing stored (0 = none)'),
  opt('idle-timeout', 'duration', '5m', 'each SMTP command must arrive within this after the previous reply (0 = none)'),
  opt('max-data-memory', 'bytes', String(256 * 1024 * 1024), 'DATA bytes held in memory by all sessions; past it 452 4.3.1 (suffixes k, m, g allowed)'),
  opt('enable-chaos', null, 'false', "allow Mailpit's chaos triggers (PUT /api/v1/chaos): SMTP errors at a chosen probability"),
  opt('http-allowed-hosts', 'name,...', '', 'Host names the UI and API answer besides loopback names (DNS-rebinding guard; not checked with --http-auth/--http-token)'),
  opt('compression', '0..3', '1', 'zstd compression of stored raw messages: 0 off, 1 fastest, 2 more, 3 smallest; reads are transparent and existing rows stay as stored'),
  opt('spamd', 'host:port', '', "SpamAssassin's spamd: each stored message is scored after commit (score:, is:spam, /sa-check); off unless given"),
  opt('webhook-url', 'url', '', "POST Mailpit's message summary JSON here for each stored message (the one outbound connection holdmail makes)"),
  opt('tags-plus-addresses', null, 'false', 'tag messages with the +tag of plus-addressed recipients (user+tag@example.com)'),
  opt('tags-username', null, 'false', 'tag messages with the SMTP AUTH user name'),
]

export function helpText(): string {
  const lines = ['Usage: holdmail serve [options]', '', 'Options (each also an environment variable):']
  for (const o of OPTIONS) {
    const left = `  --${o.flag}${o.value ? ' ' + o.value : ''}`
    const def = o.default && o.value ? ` [default: ${o.default}]` : ''
    lines.push(`${left.padEnd(34)}${o.help}${def}`, `${''.padEnd(34)}${o.env}`)
  }
  lines.push('', 'Other commands:', '  holdmail spf-lint <domain | "v=spf1 ...">',
    '  holdmail sendmail [-t] [-f sender] [-i] [--db path] [recipient ...] < message',
    '  holdmail import|export|compact ... (each with --help for its usage)', '  holdmail --version', '  holdmail --help')
  return lines.join('\n')
}
