import zstd, { type Decoder, type Encoder } from '@toondepauw/node-zstd'
import { AppError } from '../errors.js'

// Compression of the stored raw bytes (--compression 0..3, as Mailpit's). The codec name is
// kept per row in message_raw.codec (migration 007): NULL means the bytes are stored as they came,
// which is what every row written before compression existed has, so old databases read unchanged.
// Only the writer encodes; every reader decodes through decodeRaw, so the raw endpoint, exports,
// .eml downloads and the analysers see the original bytes.
//
// zstd, chosen by measurement (docs/performance.md, "Compression"; bench/codec.mjs): on real mail
// all codecs store about 60 % (attachments are already base64 of compressed data), and zstd level 1
// compressed fastest there. node:zlib has zstd only from Node 22.15, so on Node 20 it comes from
// @toondepauw/node-zstd (a napi-rs addon whose per-platform binaries are registry packages: no
// download at install). Its frames are standard zstd frames with the content size (RFC 8878), which
// node:zlib's zstdDecompressSync and the zstd command also read.

export const ZSTD = 'zstd'
export type RawCodec = typeof ZSTD

/** --compression level (config's 0..MAX_COMPRESSION) -> zstd level. 1 is zstd's fastest; 9 costs several times its CPU. */
const ZSTD_LEVELS = [0, 1, 3, 9] as const
export const DEFAULT_COMPRESSION = 1

// Below this the frame header and the per-call cost outweigh anything saved.
const MIN_COMPRESS_BYTES = 64

const encoders = new Map<number, Encoder>()
let decoder: Decoder | null = null

export interface EncodedRaw {
  /** What goes into message_raw.raw. */
  stored: Buffer
  /** message_raw.codec: null when stored as is. */
  codec: RawCodec | null
}

/**
 * The bytes to store for `raw` at a --compression level. When compressing would not make the row
 * smaller (already-compressed attachments, tiny messages) the original is stored, so reads of such
 * messages cost nothing extra.
 */
export function encodeRaw(raw: Buffer, level: number): EncodedRaw {
  const zl = ZSTD_LEVELS[level]
  if (!zl || raw.length < MIN_COMPRESS_BYTES) return { stored: raw, codec: null }
  let enc = encoders.get(zl)
  if (!enc) encoders.set(zl, (enc = new zstd.Encoder(zl)))
  const packed = enc.encodeSync(raw)
  return packed.length < raw.length ? { stored: packed, codec: ZSTD } : { stored: raw, codec: null }
}

/** The original bytes of a message_raw row. */
export function decodeRaw(stored: Buffer, codec: string | null): Buffer {
  if (codec === null) return stored
  if (codec === ZSTD) return (decoder ??= new zstd.Decoder()).decodeSync(stored)
  // A database written by a newer holdmail with a codec this one does not know.
  throw new AppError('STORE_FAILED', `raw message stored with unknown codec "${codec}"`)
}
