import { createReadStream } from 'node:fs'
import { open, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

// Reads existing mail archives for `holdmail import`: single .eml files, mbox files (mboxrd and
// mboxo, "From " separators), Maildir folders (cur/ and new/, Maildir++ subfolders) and folders of
// any of these. Every message comes out as the exact bytes it had in the archive; only what the
// container format added (the mbox "From " line, its ">" quoting, the blank separator line) is removed.

export type SourceKind = 'eml' | 'mbox' | 'maildir'

export interface Source {
  kind: SourceKind
  path: string
  bytes: number
}

export interface SourceMessage {
  raw: Buffer
  /** The mbox "From " line (without "From " and the newline), for the envelope sender. */
  fromLine: string | null
  /** Where it came from, for error messages: the file, with the line for an mbox entry. */
  origin: string
}

export interface SourceProblem {
  origin: string
  error: string
}

export interface FoundSources {
  sources: Source[]
  /** Files in plain folders that are neither .eml, mbox nor in a Maildir: left alone, counted. */
  ignored: string[]
  problems: SourceProblem[]
}

const FROM_ = Buffer.from('From ')

async function startsWithFrom(path: string): Promise<boolean> {
  const fh = await open(path, 'r')
  try {
    const head = Buffer.alloc(FROM_.length)
    const { bytesRead } = await fh.read(head, 0, head.length, 0)
    return bytesRead === head.length && head.equals(FROM_)
  } finally {
    await fh.close()
  }
}

const isMaildir = (names: Set<string>): boolean => names.has('cur') || names.has('new')
const reason = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException
  return e.code ? `${e.code}: ${e.message.replace(/^\w+: /, '')}` : String(e.message ?? err)
}

/**
 * Every message source under the given paths, in a stable order (names sorted). A path given on
 * the command line is read whatever its name: an mbox when it starts with "From ", else one message.
 */
export async function findSources(paths: readonly string[]): Promise<FoundSources> {
  const found: FoundSources = { sources: [], ignored: [], problems: [] }

  async function file(path: string, inFolder: boolean): Promise<void> {
    const st = await stat(path)
    if (st.size === 0) {
      // Named on the command line, an empty file is a mistake; inside a folder it is just not mail.
      if (inFolder) found.ignored.push(path)
      else found.problems.push({ origin: path, error: 'empty file' })
      return
    }
    if (await startsWithFrom(path)) found.sources.push({ kind: 'mbox', path, bytes: st.size })
    else if (!inFolder || /\.eml$/i.test(path)) found.sources.push({ kind: 'eml', path, bytes: st.size })
    else found.ignored.push(path)
  }

  async function maildirFiles(dir: string): Promise<void> {
    for (const sub of ['new', 'cur']) {
      let names: string[]
      try {
        names = (await readdir(join(dir, sub))).sort()
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      for (const name of names) {
        if (name.startsWith('.')) continue
        const path = join(dir, sub, name)
        const st = await stat(path)
        if (st.isFile() && st.size > 0) found.sources.push({ kind: 'maildir', path, bytes: st.size })
        else found.ignored.push(path)
      }
    }
  }

  async function folder(dir: string, maildirParent: boolean): Promise<void> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    const names = new Set(entries.filter((e) => e.isDirectory()).map((e) => e.name))
    const maildir = isMaildir(names)
    if (maildir) await maildirFiles(dir)
    for (const e of entries) {
      const path = join(dir, e.name)
      if (e.isDirectory()) {
        if (maildir && (e.name === 'cur' || e.name === 'new' || e.name === 'tmp')) continue
        // Dot folders are skipped except inside a Maildir, where they are Maildir++ subfolders (.Spam).
        if (e.name.startsWith('.') && !maildir && !maildirParent) continue
        await walk(path, true, maildir)
      } else if (e.isFile() && !maildir && !e.name.startsWith('.')) {
        await file(path, true)
      }
    }
  }

  async function walk(path: string, inFolder: boolean, maildirParent: boolean): Promise<void> {
    try {
      const st = await stat(path)
      if (st.isDirectory()) await folder(path, maildirParent)
      else if (st.isFile()) await file(path, inFolder)
      else found.problems.push({ origin: path, error: 'not a file or folder' })
    } catch (err) {
      found.problems.push({ origin: path, error: reason(err) })
    }
  }

  for (const p of paths) await walk(p, false, false)
  return found
}

const isBlank = (line: Buffer): boolean => (line.length === 1 && line[0] === 0x0a) || (line.length === 2 && line[0] === 0x0d && line[1] === 0x0a)

function startsWith(line: Buffer, prefix: Buffer, at = 0): boolean {
  if (line.length < at + prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (line[at + i] !== prefix[i]) return false
  return true
}

/**
 * Splits an mbox into messages, fed in chunks so that a file of any size needs only one message
 * in memory. A "From " line starts a message when it is the first line or follows a blank line
 * (the separator every writer puts between messages; requiring it keeps an unquoted "From " in an
 * mboxo body from cutting a message in two). Lines matching ^>+From  lose one ">" (mboxrd, RFC 4155
 * appendix; for mboxo this also unquotes lines that were ">From " in the original, a loss that format
 * cannot avoid). The blank separator line before the next "From " is not part of the message.
 */
export class MboxSplitter {
  private parts: Buffer[] = []
  private size = 0
  private fromLine: string | null = null
  private startLine = 0
  private lineNo = 0
  private prevBlank = true
  private oversize = false
  private carry: Buffer[] = []

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
  ) {}

  /** Messages completed by this chunk. */
  push(chunk: Buffer, out: (SourceMessage | SourceProblem)[]): void {
    let start = 0
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, start)) {
      let line = chunk.subarray(start, i + 1)
      if (this.carry.length) {
        this.carry.push(line)
        line = Buffer.concat(this.carry)
        this.carry = []
      }
      this.line(line, out)
      start = i + 1
    }
    if (start < chunk.length) this.carry.push(chunk.subarray(start))
  }

  end(out: (SourceMessage | SourceProblem)[]): void {
    if (this.carry.length) {
      this.line(Buffer.concat(this.carry), out)
      this.carry = []
    }
    this.finish(out)
  }

  private line(line: Buffer, out: (SourceMessage | SourceProblem)[]): void {
    this.lineNo++
    if (this.prevBlank && startsWith(line, FROM_)) {
      this.finish(out)
      this.fromLine = line.toString('latin1', FROM_.length).replace(/\r?\n$/, '')
      this.startLine = this.lineNo
      this.prevBlank = false
      return
    }
    this.prevBlank = isBlank(line)
    if (this.fromLine === null) return // blank lines before the first message
    if (line[0] === 0x3e /* > */) {
      let n = 0
      while (line[n] === 0x3e) n++
      if (startsWith(line, FROM_, n)) line = line.subarray(1)
    }
    if (this.oversize) return
    this.size += line.length
    if (this.size > this.maxBytes) {
      this.oversize = true
      this.parts = []
      return
    }
    this.parts.push(line)
  }

  private finish(out: (SourceMessage | SourceProblem)[]): void {
    if (this.fromLine === null) return
    const origin = `${this.path}:${this.startLine}`
    if (this.oversize) {
      out.push({ origin, error: `larger than the ${this.maxBytes}-byte limit (--max-message-size)` })
    } else {
      const last = this.parts[this.parts.length - 1]
      if (last && isBlank(last)) this.parts.pop() // the separator before the next "From " line
      out.push({ raw: Buffer.concat(this.parts), fromLine: this.fromLine, origin })
    }
    this.parts = []
    this.size = 0
    this.oversize = false
    this.fromLine = null
  }
}

const MBOX_READ_CHUNK_BYTES = 1024 * 1024

/** The messages of one source, in file order; a problem (unreadable, oversize) is yielded in its place. */
export async function* readSource(source: Source, maxBytes: number): AsyncGenerator<SourceMessage | SourceProblem> {
  if (source.kind !== 'mbox') {
    if (source.bytes > maxBytes) {
      yield { origin: source.path, error: `larger than the ${maxBytes}-byte limit (--max-message-size)` }
      return
    }
    try {
      yield { raw: await readFile(source.path), fromLine: null, origin: source.path }
    } catch (err) {
      yield { origin: source.path, error: reason(err) }
    }
    return
  }
  const splitter = new MboxSplitter(source.path, maxBytes)
  const out: (SourceMessage | SourceProblem)[] = []
  try {
    for await (const chunk of createReadStream(source.path, { highWaterMark: MBOX_READ_CHUNK_BYTES })) {
      splitter.push(chunk as Buffer, out)
      yield* out.splice(0)
    }
  } catch (err) {
    // The message being read when the error came is dropped: never a partial message.
    yield* out.splice(0)
    yield { origin: source.path, error: reason(err) }
    return
  }
  splitter.end(out)
  yield* out
}
