import { createHash } from 'node:crypto'
import type { Attachment, HeaderValue } from 'mailparser'
import { parseMail } from './summary.js'

export interface PartInfo {
  PartID: string
  FileName: string
  ContentType: string
  ContentID: string
  Size: number
  Checksums: { MD5: string; SHA1: string; SHA256: string }
}

export interface MessageDetail {
  text: string
  html: string
  inline: PartInfo[]
  attachments: PartInfo[]
  listUnsubscribe: { Header: string; Links: string[]; Errors: string; HeaderPost: string }
  parseError: string | null
}

const hash = (algo: string, data: Buffer): string => createHash(algo).update(data).digest('hex')

function partInfo(a: Attachment, index: number): PartInfo {
  return {
    PartID: a.partId ?? String(index + 1),
    FileName: a.filename ?? '',
    ContentType: a.contentType,
    ContentID: (a.contentId ?? '').replace(/^<|>$/g, ''),
    Size: a.size,
    Checksums: { MD5: hash('md5', a.content), SHA1: hash('sha1', a.content), SHA256: hash('sha256', a.content) },
  }
}

// A header mailparser left as text; one it parsed into a structure has no single text form.
const headerText = (value: HeaderValue | undefined): string => (typeof value === 'string' ? value : '')

const isInline = (a: Attachment): boolean => Boolean(a.contentId) && (a.related || a.contentDisposition === 'inline')

/** Full parse for one message's detail view; runs on request only, never on the accept path. */
export async function parseDetail(raw: Buffer): Promise<MessageDetail & { parts: Map<string, Attachment> }> {
  try {
    const mail = await parseMail(raw)
    const parts = new Map<string, Attachment>()
    const inline: PartInfo[] = []
    const attachments: PartInfo[] = []
    mail.attachments.forEach((a, i) => {
      const info = partInfo(a, i)
      parts.set(info.PartID, a)
      ;(isInline(a) ? inline : attachments).push(info)
    })
    const header = headerText(mail.headers.get('list-unsubscribe'))
    const links = [...header.matchAll(/<([^>]+)>/g)].map((m) => m[1]!)
    return {
      text: mail.text ?? '',
      html: typeof mail.html === 'string' ? mail.html : '',
      inline,
      attachments,
      listUnsubscribe: {
        Header: header,
        Links: links,
        Errors: header && links.length === 0 ? 'no <link> in List-Unsubscribe' : '',
        HeaderPost: headerText(mail.headers.get('list-unsubscribe-post')),
      },
      parseError: null,
      parts,
    }
  } catch (err) {
    return {
      text: '',
      html: '',
      inline: [],
      attachments: [],
      listUnsubscribe: { Header: '', Links: [], Errors: '', HeaderPost: '' },
      parseError: (err as Error).message || 'parse failed',
      parts: new Map(),
    }
  }
}
