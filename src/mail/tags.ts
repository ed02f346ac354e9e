// Tags a message carries by itself, as Mailpit derives them: the X-Tags header (a comma-separated
// list), the "+tag" of plus-addressed recipients (RFC 5233 subaddressing, "user+tag@example.com")
// and the SMTP AUTH user name. Sample data is hostile: a tag is cut to MAX_TAG_CHARS, control
// characters are removed and at most MAX_TAGS_PER_SOURCE come from one source, so one message
// cannot flood the tag table.

const MAX_TAG_CHARS = 100 // the longest name PUT /api/v1/tags accepts
const MAX_TAGS_PER_SOURCE = 20
// The X-Tags header is read no further than this (a 1 MB header line is normal input here).
const MAX_X_TAGS_CHARS = 4096

/** A tag as a person typed it: control characters removed, spaces collapsed, '' when nothing is left. */
export function cleanTag(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_TAG_CHARS).trim()
}

const unique = (tags: Iterable<string>): string[] => {
  const out = new Set<string>()
  for (const t of tags) {
    const c = cleanTag(t)
    if (c && out.size < MAX_TAGS_PER_SOURCE) out.add(c)
  }
  return [...out]
}

/** Tags named by X-Tags header values ("a, b,c"). */
export function tagsFromXTags(values: readonly string[]): string[] {
  return unique(values.flatMap((v) => v.slice(0, MAX_X_TAGS_CHARS).split(',')))
}

/** The "+tag" parts of plus-addressed recipients ("user+tag@host" gives "tag"). */
export function plusAddressTags(addresses: readonly string[]): string[] {
  const tags: string[] = []
  for (const address of addresses) {
    const at = address.lastIndexOf('@')
    const local = at === -1 ? address : address.slice(0, at)
    const plus = local.indexOf('+')
    if (plus !== -1) tags.push(local.slice(plus + 1))
  }
  return unique(tags)
}

export interface EnvelopeTagOptions {
  plusAddresses: boolean
  username: boolean
}

/** Tags from the envelope alone (cheap enough for the accept path: no look at the bytes). */
export function envelopeTags(env: { rcptTo: readonly { address: string }[]; authUser: string | null }, opts: EnvelopeTagOptions): string[] {
  return [
    ...(opts.plusAddresses ? plusAddressTags(env.rcptTo.map((r) => r.address)) : []),
    ...(opts.username && env.authUser ? unique([env.authUser]) : []),
  ]
}
