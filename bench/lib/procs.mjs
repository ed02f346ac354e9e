// Child-process helpers for the benchmark: spawn a server, wait for its "listening" lines, read
// its memory from /proc, stop it (SIGTERM, then SIGKILL after a grace period).
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'

const START_TIMEOUT_MS = 60_000
const STOP_GRACE_MS = 15_000

// Servers die with the benchmark, even when it is interrupted.
const children = new Set()
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const c of children) c.kill('SIGKILL')
    process.exit(130)
  })
}

/**
 * Spawns `node ...args` and resolves once every regex in `ready` matched a stdout line;
 * resolves to { child, pid, matches, stderrTail(), stdoutTail(), stop() }.
 */
export function spawnServer(name, args, ready, { nodeFlags = [], env = process.env } = {}) {
  const child = spawn(process.execPath, [...nodeFlags, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  children.add(child)
  child.once('exit', () => children.delete(child))
  let stderr = ''
  let stdoutBuf = ''
  let stdoutAfterStart = ''
  const matches = new Array(ready.length).fill(null)
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (s) => {
    stderr = (stderr + s).slice(-8192)
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))

  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in ${START_TIMEOUT_MS} ms; stderr: ${stderr}`)), START_TIMEOUT_MS)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (s) => {
      if (matches.every(Boolean)) {
        stdoutAfterStart = (stdoutAfterStart + s).slice(-65536) // started: keep the last logs
        return
      }
      stdoutBuf += s
      let i
      while ((i = stdoutBuf.indexOf('\n')) !== -1) {
        const line = stdoutBuf.slice(0, i)
        stdoutBuf = stdoutBuf.slice(i + 1)
        ready.forEach((re, k) => {
          const m = matches[k] ? null : re.exec(line)
          if (m) matches[k] = m
        })
      }
      if (matches.every(Boolean)) {
        clearTimeout(timer)
        stdoutBuf = ''
        resolve()
      }
    })
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready; stderr: ${stderr}`))
    })
  })

  return started.then(() => ({
    child,
    pid: child.pid,
    matches,
    exited,
    stderrTail: () => stderr,
    /** The last 64 KiB the server wrote to stdout (its logs) after it was ready. */
    stdoutTail: () => stdoutAfterStart,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
      const r = await exited
      clearTimeout(timer)
      return r
    },
  }))
}

/** VmRSS and VmHWM (peak) of a process, in MiB. */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 }
}

/** CPU time (user + system) of a process in ms, from /proc/PID/stat. */
export function cpuMsOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[11] = utime, fields[12] = stime (clock ticks; 100 Hz on Linux)
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}
