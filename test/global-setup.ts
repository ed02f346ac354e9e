import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// Before any test: make dist/ current (scripts/build-if-stale.mjs rebuilds only when a source is
// newer than the last build). The suite's worker threads load dist/ (HOLDMAIL_THREADS_FROM_DIST in
// vitest.config.ts): the same code the tests import from src/, compiled, which starts and stops
// each thread about twice as fast as TypeScript through tsx.
export default function setup(): void {
  const script = fileURLToPath(new URL('../scripts/build-if-stale.mjs', import.meta.url))
  execFileSync(process.execPath, [script], { stdio: 'inherit' })
}
