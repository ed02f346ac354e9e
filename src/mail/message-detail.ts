import { createHash } from 'node:crypto'
import type { Attachment } from 'mailparser'
import { readHeaders } from './headers.js'
import { listUnsubscribeOf, type ListUnsubscribe } from './list-unsubscribe.js'
import { isInlinePart, parseMail, textOf } from './summary.js'

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
  listUnsubscribe: ListUnsubscribe
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
      ;(isInlinePart(a) ? inline : attachments).push(info)
    })
    return {
      text: textOf(mail),
      html: typeof mail.html === 'string' ? mail.html : '',
      inline,
      attachments,
      listUnsubscribe: listUnsubscribeOf(readHeaders(raw)),
      parseError: null,
      parts,
    }
  } catch (err) {
    return {
      text: '',
      html: '',
      inline: [],
      attachments: [],
      listUnsubscribe: listUnsubscribeOf(readHeaders(raw)),
      parseError: (err as Error).message || 'parse failed',
      parts: new Map(),
    }
  }
}
