// `npm start` / `npm test` run scripts/build-if-stale.mjs: tsc runs only when something the build
// reads is newer than dist/.build-stamp. Checked on a scratch package whose "build" script records
// that it ran, with file times set explicitly instead of waiting for the clock.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PACKAGE_ROOT, run } from './holdmail-process.js'

describe('build-if-stale', () => {
  const root = mkdtempSync(join(tmpdir(), 'holdmail-stale-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'scripts'))
  cpSync(join(PACKAGE_ROOT, 'scripts', 'build-if-stale.mjs'), join(root, 'scripts', 'build-if-stale.mjs'))
  const build = "const fs = require('node:fs'); fs.appendFileSync('builds', 'x'); fs.mkdirSync('dist', { recursive: true }); fs.writeFileSync('dist/.build-stamp', '')"
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'scratch', private: true, scripts: { build: `node -e "${build}"` } }))
  mkdirSync(join(root, 'src', 'cli'), { recursive: true })
  mkdirSync(join(root, 'web'))
  writeFileSync(join(root, 'src', 'cli', 'main.ts'), '')
  writeFileSync(join(root, 'web', 'app.js'), '')
  const past = new Date(Date.now() - 3_600_000)
  for (const f of ['package.json', 'scripts/build-if-stale.mjs', 'src/cli/main.ts', 'web/app.js', 'src/cli', 'src', 'web', 'scripts']) utimesSync(join(root, f), past, past)

  const builds = async (): Promise<number> => {
    const r = await run(process.execPath, [join(root, 'scripts', 'build-if-stale.mjs')], { cwd: root })
    expect(r.code, r.stderr).toBe(0)
    return existsSync(join(root, 'builds')) ? readFileSync(join(root, 'builds'), 'utf8').length : 0
  }

  it('builds when there is no dist/, then not again while nothing changed', async () => {
    expect(await builds()).toBe(1)
    expect(await builds()).toBe(1)
  })

  it.each([['src/cli/main.ts'], ['web/app.js'], ['package.json']])('builds again after %s changed', async (file) => {
    const before = await builds()
    const later = new Date(Date.now() + 60_000)
    utimesSync(join(root, file), later, later)
    expect(await builds()).toBe(before + 1)
    expect(await builds()).toBe(before + 1)
  })
})
