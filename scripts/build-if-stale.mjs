// `npm start` and `npm test` call this instead of the build: it runs `npm run build` only when a
// file the build reads (src/, web/, tsconfig.json, package.json, scripts/) is newer than the last
// build's stamp, so a start on a current dist/ does not wait for tsc.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, utimesSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const INPUTS = ['src', 'web', 'scripts', 'tsconfig.json', 'package.json']

/** The newest modification time under path, and the file that has it. */
function newest(path) {
  let best = { mtimeMs: 0, file: path }
  let st
  try {
    st = statSync(path)
  } catch {
    return best
  }
  if (!st.isDirectory()) return { mtimeMs: st.mtimeMs, file: path }
  for (const entry of readdirSync(path)) {
    const n = newest(join(path, entry))
    if (n.mtimeMs > best.mtimeMs) best = n
  }
  return best
}

function stampTime() {
  try {
    return statSync(join(root, 'dist', '.build-stamp')).mtimeMs
  } catch {
    return -1
  }
}

const stamp = stampTime()
const input = INPUTS.map((p) => newest(join(root, p))).reduce((a, b) => (b.mtimeMs > a.mtimeMs ? b : a))
if (stamp >= 0 && input.mtimeMs <= stamp) process.exit(0)

process.stderr.write(stamp < 0 ? 'holdmail: building dist/\n' : `holdmail: rebuilding dist/ (${relative(root, input.file)} changed)\n`)
// npm sets npm_execpath when it runs this script; run the same npm, without a shell.
const npm = process.env.npm_execpath
const r = npm
  ? spawnSync(process.execPath, [npm, 'run', 'build', '--silent'], { cwd: root, stdio: 'inherit' })
  : spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' })
if (r.status !== 0) process.exit(r.status ?? 1)
// A source dated in the future (a clock skew, an archive from another machine) would be newer
// than every stamp written now and rebuild on every start: date the stamp no earlier than it.
const stampFile = join(root, 'dist', '.build-stamp')
const built = stampTime()
// (One millisecond past it: stat times are floats, and a Date keeps whole milliseconds.)
if (built >= 0 && built <= input.mtimeMs) utimesSync(stampFile, new Date(), new Date(Math.ceil(input.mtimeMs) + 1))
