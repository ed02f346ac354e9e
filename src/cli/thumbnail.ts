import { imageSize } from 'image-size'
import { AppError } from '../errors.js'
import { spawnThread, type Thread } from '../threads/index.js'

// Thumbnails of image attachments (GET /api/v1/message/{ID}/part/{PartID}/thumb) made in a thread
// of their own, one at a time. The image's dimensions are read from its header first (image-size,
// no decode): a decompression bomb (a few KB of PNG that inflate to gigabytes) is refused before
// any pixel is decoded. A decode past THUMB_BUDGET_MS ends the thread; the next request starts a
// new one.

// 40 megapixels: a 40 MP RGBA bitmap is 160 MB, about the largest photo a phone makes.
const MAX_PIXELS = 40_000_000
const THUMB_BUDGET_MS = 20_000
const DECODABLE = new Set(['png', 'jpg', 'gif', 'bmp', 'tiff'])

export interface Thumbnailer {
  /** A JPEG thumbnail, or null when this is not an image holdmail can decode. */
  make(content: Buffer): Promise<Buffer | null>
  close(): Promise<void>
}

export function createThumbnailer(opts: { budgetMs?: number } = {}): Thumbnailer {
  let thread: Thread | null = null
  let queue: Promise<unknown> = Promise.resolve()
  const budget = opts.budgetMs ?? THUMB_BUDGET_MS

  async function run(content: Buffer): Promise<Buffer> {
    if (!thread || thread.exited) thread = spawnThread(new URL('./thumb-worker', import.meta.url))
    const t = thread
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        void t.terminate()
        reject(new AppError('READ_TIMEOUT', 'the image took too long to decode'))
      }, budget)
    })
    try {
      const { jpeg } = await Promise.race([t.request<{ jpeg: Uint8Array }>({ content }), expired])
      return Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength)
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    async make(content) {
      let size: { width: number; height: number; type?: string }
      try {
        size = imageSize(content)
      } catch {
        return null // not an image format image-size knows
      }
      if (!size.type || !DECODABLE.has(size.type)) return null
      if (size.width * size.height > MAX_PIXELS) return null
      const job = queue.then(() => run(content))
      queue = job.catch(() => undefined)
      try {
        return await job
      } catch (err) {
        if (err instanceof AppError && err.code === 'READ_TIMEOUT') throw err
        return null // the decoder refused it (corrupt or unsupported variant)
      }
    },
    async close() {
      await thread?.close()
    },
  }
}
