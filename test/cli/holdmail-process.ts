// holdmail as users run it: `dist/cli/main.js` in a child process (the npm test script builds
// dist/ first), driven through its output lines, its exit code and real sockets.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
const START_TIMEOUT_MS = 20_000

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs a command to its end, feeding it stdin; resolves with its exit and output. */
export function run(command: string, args: readonly string[], opts: SpawnOptions & { input?: Buffer | string } = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
    child.stdin.end(opts.input ?? '')
  })
}

export interface Server {
  child: ChildProcess
  smtpPort: number
  baseUrl: string
  /** The path printed on the `holdmail database` line. */
  database: string
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** SIGTERM, then the exit. */
  stop(): Promise<Exit>
}

/** Starts `main.js serve` (this package's, or opts.main) with the given flags; resolves once the listener and database lines are out. */
export function startServer(args: readonly string[], opts: SpawnOptions & { main?: string } = {}): Promise<Server> {
  const child = spawn(process.execPath, [opts.main ?? MAIN, 'serve', ...args], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  return new Promise((resolve, reject) => {
    let started = false
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`holdmail did not start in ${START_TIMEOUT_MS} ms:\n${stdout}\n${stderr}`))
    }, START_TIMEOUT_MS)
    void exit.then((e) => {
      if (started) return
      clearTimeout(timer)
      reject(new Error(`holdmail exited (code ${e.code}, signal ${e.signal}) before listening:\n${e.stdout}\n${e.stderr}`))
    })
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s
      if (started) return
      const smtp = /SMTP listening on \S+:(\d+)/.exec(stdout)
      const http = /HTTP listening on (http:\/\/\S+)/.exec(stdout)
      const db = /^holdmail database (.+)$/m.exec(stdout)
      if (!smtp || !http || !db) return
      started = true
      clearTimeout(timer)
      resolve({
        child,
        smtpPort: Number(smtp[1]),
        baseUrl: http[1]!,
        database: db[1]!,
        output: () => stdout + stderr,
        stop: () => {
          child.kill('SIGTERM')
          return exit
        },
      })
    })
  })
}
