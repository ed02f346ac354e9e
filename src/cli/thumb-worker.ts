import { Jimp } from 'jimp'
import { onCloseRequest, serveRequests, withTransfer } from '../threads/index.js'

// The thumbnail thread: decodes one image attachment (jimp, pure JavaScript, so no native binary
// to download) and answers a JPEG of THUMB_WIDTH x THUMB_HEIGHT, cropped to fill, as Mailpit's
// thumbnails are. Decoding a sample's image is CPU-heavy and hostile input: it runs here, with a
// time budget and a pixel cap checked before the decode (src/cli/thumbnail.ts), never on the HTTP
// or SMTP thread.

const THUMB_WIDTH = 180
const THUMB_HEIGHT = 120
const JPEG_QUALITY = 80

serveRequests(async (body) => {
  const { content } = body as { content: Uint8Array }
  const image = await Jimp.read(Buffer.from(content.buffer, content.byteOffset, content.byteLength))
  image.cover({ w: THUMB_WIDTH, h: THUMB_HEIGHT })
  const jpeg = await image.getBuffer('image/jpeg', { quality: JPEG_QUALITY })
  const out = new Uint8Array(jpeg) // its own ArrayBuffer, moved to the caller
  return withTransfer({ jpeg: out }, [out.buffer])
})

// Nothing to release: the close handshake only lets the thread exit now.
onCloseRequest(() => undefined)
