import { randomBytes } from 'node:crypto'

// In ASCII order, so that IDs sort like their time prefix.
const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
// 20 characters: 7 of receive time in ms (62^7 ms lasts until 2081), then 13 random (62^13 ≈ 2^77
// per millisecond: collisions are not a practical concern). New IDs land at the end of the
// messages.id index instead of on a random page of it, which keeps commits cheap.
const ID_LENGTH = 20
const ID_TIME_CHARS = 7
// Random bytes are drawn 4 KiB at a time: one getrandom() per ~200 IDs instead of one per ID, off
// the accept path's per-message cost.
const ID_POOL_BYTES = 4096
let idPool = Buffer.alloc(0)
let idPoolAt = 0

/** A new message ID: time-ordered prefix, random rest; never derived from the message's headers. */
export function newMessageId(now = Date.now()): string {
  let out = ''
  for (let t = Math.max(0, Math.floor(now)), i = 0; i < ID_TIME_CHARS; i++, t = Math.floor(t / 62)) out = ID_ALPHABET[t % 62] + out
  while (out.length < ID_LENGTH) {
    if (idPoolAt >= idPool.length) {
      idPool = randomBytes(ID_POOL_BYTES)
      idPoolAt = 0
    }
    const b = idPool[idPoolAt++]!
    if (b < 248) out += ID_ALPHABET[b % 62] // 248 = 4*62: no modulo bias
  }
  return out
}
