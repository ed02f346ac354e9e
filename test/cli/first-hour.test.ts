// The first hour of a new user (issue 13), run as they would: the built entry point in a child
// process, from other working directories, through npm's bin links, with the README's own recipe.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MAIN, PACKAGE_ROOT, run, startServer } from './holdmail-process.js'

const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> }
const MESSAGE = 'From: app@example.test\nTo: you@example.test\nSubject: hi from php\n\nhello\n'
const dir = mkdtempSync(join(tmpdir(), 'holdmail-first-hour-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A private working directory: the commands below must not depend on where they start. */
function elsewhere(name: string): string {
  const d = join(dir, name)
  mkdirSync(d, { recursive: true })
  return d
}

async function messageSubjects(baseUrl: string): Promise<string[]> {
  const body = (await (await fetch(`${baseUrl}/api/v1/messages`)).json()) as { messages: { Subject: string }[] }
  return body.messages.map((m) => m.Subject)
}

describe('holdmail --version', () => {
  it.each(['--version', '-v'])('%s prints the package version and exits 0', async (flag) => {
    const r = await run(process.execPath, [MAIN, flag])
    expect(r).toMatchObject({ code: 0, stdout: `holdmail ${pkg.version}\n`, stderr: '' })
  })

  it('is listed by --help', async () => {
    const r = await run(process.execPath, [MAIN, '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('holdmail --version')
  })
})

describe('the entry point', () => {
  it('is executable after the build and runs by its path alone', async () => {
    expect(statSync(MAIN).mode & 0o111).toBe(0o111)
    const r = await run(MAIN, ['--version'], { cwd: elsewhere('exec') })
    expect(r).toMatchObject({ code: 0, stdout: `holdmail ${pkg.version}\n` })
  })

  it('works as the `holdmail` bin that npm links (npm link, npm install, npx)', async () => {
    expect(pkg.bin.holdmail).toBe('dist/cli/main.js')
    const prefix = elsewhere('npm-prefix')
    // A folder install links the package and its bin the way `npm link` does; offline: nothing is fetched.
    const install = await run('npm', ['install', '--prefix', prefix, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', PACKAGE_ROOT], { cwd: prefix })
    expect(install.code, install.stderr).toBe(0)
    const viaBin = await run(join(prefix, 'node_modules', '.bin', 'holdmail'), ['--version'], { cwd: prefix })
    expect(viaBin).toMatchObject({ code: 0, stdout: `holdmail ${pkg.version}\n` })
    const viaNpx = await run('npm', ['exec', '--offline', '--prefix', prefix, '--', 'holdmail', '-v'], { cwd: elsewhere('npx') })
    expect(viaNpx, viaNpx.stderr).toMatchObject({ code: 0, stdout: `holdmail ${pkg.version}\n` })
  })

  it("runs the README's php.ini sendmail_path command line as PHP's mail() does (sh -c, message on stdin)", async () => {
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8')
    const recipe = /sendmail_path\s*=\s*"([^"]+)"/.exec(readme)?.[1]
    expect(recipe, 'the php.ini recipe in README.md').toBeDefined()
    const command = recipe!.replaceAll('/path/to/holdmail/', PACKAGE_ROOT)
    expect(command).toContain(MAIN)
    // The database is the environment's choice here so the test leaves the package's data/ alone.
    const db = join(dir, 'php.db')
    const r = await run('/bin/sh', ['-c', command], { cwd: elsewhere('php'), input: MESSAGE, env: { ...process.env, HOLDMAIL_DB: db } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`^holdmail: stored as \\w+ in ${db} \\(never delivered\\)\\n$`))
    const server = await startServer(['--db', db, '--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--no-auth-checks', '--log-level', 'warn'])
    try {
      await expect.poll(() => messageSubjects(server.baseUrl), { timeout: 15_000 }).toEqual(['hi from php'])
    } finally {
      await server.stop()
    }
  })
})

describe('the default database', () => {
  it("is the package's data/holdmail.db whatever the working directory, for serve and sendmail alike", { timeout: 60_000 }, async () => {
    // A copy of the package (dist/, web/, package.json; node_modules linked) so its data/ is private to this test.
    const copy = elsewhere('package')
    cpSync(join(PACKAGE_ROOT, 'dist'), join(copy, 'dist'), { recursive: true })
    cpSync(join(PACKAGE_ROOT, 'web'), join(copy, 'web'), { recursive: true })
    cpSync(join(PACKAGE_ROOT, 'package.json'), join(copy, 'package.json'))
    symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(copy, 'node_modules'))
    const main = join(copy, 'dist', 'cli', 'main.js')
    const expected = join(copy, 'data', 'holdmail.db')
    const env = { ...process.env, HOLDMAIL_DB: undefined }

    const serverCwd = elsewhere('server-cwd')
    const sendmailCwd = elsewhere('sendmail-cwd')
    const sent = await run(main, ['sendmail', '-t', '-i'], { cwd: sendmailCwd, input: MESSAGE, env })
    expect(sent.code, sent.stderr).toBe(0)
    expect(sent.stderr).toContain(` in ${expected} (never delivered)`)
    expect(existsSync(expected)).toBe(true)
    expect(existsSync(join(sendmailCwd, 'data'))).toBe(false)

    const server = await startServer(['--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--no-auth-checks', '--log-level', 'warn'], {
      cwd: serverCwd,
      env,
      main,
    })
    try {
      expect(server.database).toBe(expected)
      // the database line comes after the listener lines
      expect(server.output().indexOf('holdmail database')).toBeGreaterThan(server.output().indexOf('HTTP listening'))
      await expect.poll(() => messageSubjects(server.baseUrl), { timeout: 15_000 }).toEqual(['hi from php'])
    } finally {
      await server.stop()
    }
    expect(existsSync(join(serverCwd, 'data'))).toBe(false)
  })

  it('prints the path given with --db, made absolute', async () => {
    const cwd = elsewhere('relative')
    const server = await startServer(['--db', 'sub/rel.db', '--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--no-auth-checks', '--log-level', 'warn'], { cwd })
    try {
      expect(server.database).toBe(join(cwd, 'sub', 'rel.db'))
    } finally {
      await server.stop()
    }
  })
})

describe('start-up errors: one clear line, exit 1', () => {
  const notAFolder = join(dir, 'plain-file')
  writeFileSync(notAFolder, 'x')

  it.each([
    ['a folder that cannot be created', '/proc/holdmail-test/y.db', /^holdmail: --db \/proc\/holdmail-test\/y\.db: cannot create folder \/proc\/holdmail-test \(ENOENT\)\n$/],
    ['a file where a folder should be', join(notAFolder, 'y.db'), /^holdmail: --db .*plain-file\/y\.db: .*plain-file is not a folder\n$/],
  ])('--db under %s', async (_what, db, message) => {
    const r = await run(process.execPath, [MAIN, 'serve', '--db', db, '--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--log-level', 'warn'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(message)
    expect(r.stdout).not.toContain('listening')
  })

  it('sendmail with such a --db says so and exits 75 (the caller may retry once it is fixed)', async () => {
    const r = await run(process.execPath, [MAIN, 'sendmail', '--db', '/proc/holdmail-test/y.db', 'you@example.test'], { input: MESSAGE })
    expect(r.code).toBe(75)
    expect(r.stderr).toBe('holdmail sendmail: --db /proc/holdmail-test/y.db: cannot create folder /proc/holdmail-test (ENOENT)\n')
  })
})

describe('export', () => {
  it('names the allowed formats when given another', async () => {
    const server = await startServer(['--db', join(dir, 'export.db'), '--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--no-auth-checks', '--log-level', 'warn'])
    try {
      const res = await fetch(`${server.baseUrl}/api/v1/export?format=tar`)
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({ error: { code: 'BAD_REQUEST', message: 'querystring/format must be one of: mbox, zip' } })
    } finally {
      await server.stop()
    }
  })
})
