import { randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import type { ZipFile } from 'yazl'

// The bytes of holdmail's export formats, shared by the HTTP export and `holdmail export`: mboxrd
// entries and a zip of <ID>.eml files with manifest.json. The stored bytes are copied unchanged;
// only the mbox "From " line and its quoting are added, as the format requires.

/** What an mbox entry is made of: the envelope sender, the receive time and the stored bytes. */
export interface MboxItem {
  mailFrom: string
  receivedAt: number
  raw: Buffer
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** C asctime() in UTC, as the mbox "From " line wants it: "Thu Jan  1 00:00:00 1970". */
export function asctime(ms: number): string {
  const d = new Date(ms)
  const pad = (n: number): string => String(n).padStart(2, '0')
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${time} ${d.getUTCFullYear()}`
}

const NEWLINE = Buffer.from('\n')
const TWO_NEWLINES = Buffer.from('\n\n')

/**
 * One mboxrd entry as its pieces: the "From " line, the raw bytes with every line matching
 * ^>*From  given one more ">", and a blank line. Line endings inside the message are kept as
 * received; a message that does not end in a newline gets one, since the separator must start a line.
 */
export function mboxParts(item: MboxItem): Buffer[] {
  // The envelope sender is client-supplied: whitespace would split the From line, so it becomes "_".
  // eslint-disable-next-line no-control-regex -- matching control characters is this regex's purpose
  const sender = item.mailFrom.replace(/[\s\x00-\x1f\x7f]/g, '_') || 'MAILER-DAEMON'
  const head = Buffer.from(`From ${sender} ${asctime(item.receivedAt)}\n`, 'utf8')
  let body = item.raw
  // latin1 maps every byte to one code unit, so the round trip is byte-exact for any input.
  if (body.includes('From ')) body = Buffer.from(body.toString('latin1').replace(/(^|\n)(>*From )/g, '$1>$2'), 'latin1')
  const last = body.length ? body[body.length - 1] : undefined
  return [head, body, last === 0x0a ? NEWLINE : TWO_NEWLINES]
}

export function mboxEntry(item: MboxItem): Buffer {
  return Buffer.concat(mboxParts(item))
}

// Entries are packed into chunks of about this size: one socket write per message (~1 KB each)
// cost more than reading the messages. A consumer pulls the next chunk only when it has taken the
// last one, so backpressure is unchanged.
const MBOX_CHUNK_BYTES = 64 * 1024

/** An mboxrd file as a sequence of chunks, each a whole number of entries. */
export async function* mboxChunks(items: Iterable<MboxItem> | AsyncIterable<MboxItem>): AsyncGenerator<Buffer> {
  let parts: Buffer[] = []
  let size = 0
  for await (const item of items) {
    for (const part of mboxParts(item)) {
      parts.push(part)
      size += part.length
    }
    if (size >= MBOX_CHUNK_BYTES) {
      yield Buffer.concat(parts, size)
      parts = []
      size = 0
    }
  }
  if (size > 0) yield Buffer.concat(parts, size)
}

/** Resolves on 'drain'; resolves false when the stream closes first (the reader is gone). */
export function drained(stream: Writable): Promise<boolean> {
  if (stream.destroyed) return Promise.resolve(false)
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      stream.off('drain', onDrain)
      stream.off('close', onClose)
      resolve(ok)
    }
    const onDrain = done(true)
    const onClose = done(false)
    stream.once('drain', onDrain)
    stream.once('close', onClose)
  })
}

/** One file of a zip export: `<ID>.eml` with the stored bytes, and its manifest.json entry. */
export interface ZipEntry {
  id: string
  raw: Buffer
  receivedAt: number
  manifest: unknown
}

/**
 * Pumps entries into a yazl zip: each message stored uncompressed as `<ID>.eml`, then manifest.json
 * (spooled to a temp file so that it never sits in memory) and the end of the archive. Waits
 * whenever the zip's reader is slower; returns early, without ending the zip, when it is gone.
 */
export async function pumpZip(zip: ZipFile, entries: Iterable<ZipEntry> | AsyncIterable<ZipEntry>): Promise<void> {
  const out = zip.outputStream as unknown as Writable & { writableNeedDrain: boolean }
  const tmp = join(tmpdir(), `holdmail-manifest-${randomUUID()}.json`)
  const manifest = createWriteStream(tmp)
  // Set from the stream's error event; a property, so the check below is not narrowed away to null.
  const manifestFailure: { error: Error | null } = { error: null }
  manifest.on('error', (err) => (manifestFailure.error ??= err)) // reported below, or moot when the reader left
  const cleanup = (): void => rmSync(tmp, { force: true })
  try {
    manifest.write('[')
    let first = true
    for await (const entry of entries) {
      if (out.destroyed) return
      zip.addBuffer(entry.raw, `${entry.id}.eml`, { compress: false, mtime: new Date(entry.receivedAt) })
      if (!manifest.write((first ? '\n' : ',\n') + JSON.stringify(entry.manifest))) await drained(manifest)
      first = false
      // yazl writes straight into its PassThrough; wait for the reader before adding more.
      if (out.writableNeedDrain && !(await drained(out))) return
    }
    await new Promise<void>((resolve) => manifest.end('\n]\n', () => resolve()))
    if (manifestFailure.error) throw manifestFailure.error
    const rs = createReadStream(tmp)
    rs.once('open', cleanup) // unlinked once open: the descriptor keeps the data readable
    zip.addReadStream(rs, 'manifest.json', { compress: true, mtime: new Date() })
    zip.end()
  } finally {
    if (!manifest.closed) manifest.destroy()
    if (out.destroyed) cleanup()
  }
}
