// Runs after tsc: copies the non-TypeScript files the server reads at run time (SQL migrations,
// the worker bootstrap) next to the build, makes the entry point executable (tsc writes 0644, and
// php.ini's sendmail_path or a `bin` link runs the file itself), and stamps the build for
// scripts/build-if-stale.mjs.
import { chmodSync, copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
mkdirSync(join(dist, 'store', 'migrations'), { recursive: true })
cpSync(join(root, 'src', 'store', 'migrations'), join(dist, 'store', 'migrations'), { recursive: true })
mkdirSync(join(dist, 'threads'), { recursive: true })
copyFileSync(join(root, 'src', 'threads', 'boot.mjs'), join(dist, 'threads', 'boot.mjs'))
chmodSync(join(dist, 'cli', 'main.js'), 0o755)
writeFileSync(join(dist, '.build-stamp'), `${new Date().toISOString()}\n`)
