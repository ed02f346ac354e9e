// Modal dialogs on <dialog>: the browser handles focus trapping and Escape.
import { h } from './dom.js'

function open(dialog) {
  document.body.appendChild(dialog)
  dialog.showModal()
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove()
      resolve(dialog.returnValue)
    })
  })
}

/** Resolves true when the user confirms. */
export async function confirmDialog(title, text, okLabel = 'OK', danger = false) {
  const form = h(
    'form',
    { method: 'dialog' },
    h('h2', null, title),
    h('p', null, text),
    h(
      'div',
      { class: 'dialog-buttons' },
      h('button', { value: 'cancel', type: 'submit' }, 'Cancel'),
      h('button', { value: 'ok', type: 'submit', class: danger ? 'danger' : 'primary', autofocus: true }, okLabel),
    ),
  )
  return (await open(h('dialog', { class: 'dialog' }, form))) === 'ok'
}

/** Asks for a tag to add to or remove from a selection; resolves { action, tag } or null. */
export async function tagDialog(count, knownTags) {
  const input = h('input', {
    type: 'text',
    name: 'tag',
    list: 'known-tags',
    maxlength: 100,
    required: true,
    autocomplete: 'off',
    'aria-label': 'Tag',
    placeholder: 'tag name',
    autofocus: true,
  })
  const form = h(
    'form',
    { method: 'dialog' },
    h('h2', null, `Tag ${count === 1 ? '1 message' : count.toLocaleString() + ' messages'}`),
    h('datalist', { id: 'known-tags' }, knownTags.map((t) => h('option', { value: t }))),
    input,
    h(
      'div',
      { class: 'dialog-buttons' },
      h('button', { value: 'cancel', type: 'submit', formnovalidate: true }, 'Cancel'),
      h('button', { value: 'remove', type: 'submit' }, 'Remove tag'),
      h('button', { value: 'add', type: 'submit', class: 'primary' }, 'Add tag'),
    ),
  )
  const result = await open(h('dialog', { class: 'dialog' }, form))
  const tag = input.value.trim()
  if ((result !== 'add' && result !== 'remove') || !tag) return null
  return { action: result, tag }
}

const SHORTCUTS = [
  ['j / k', 'next / previous message (list cursor, or in the message view)'],
  ['Enter', 'open the message under the cursor'],
  ['x', 'select / unselect the message under the cursor'],
  ['/', 'focus the search box'],
  ['Delete or d', 'delete the message (or the selection)'],
  ['u', 'back to the list'],
  ['r', 'load remote content of the open message'],
  ['?', 'this help'],
]

// Every term the search knows (src/store/search-query.ts; a test checks that each is listed here).
const SEARCH_HELP = [
  ['word, "two words"', 'anywhere in subject, addresses, attachment names and text (3+ characters: any part of a word)'],
  ['-word, !word', 'negation, also of a field: -from:x'],
  ['from:, to:, subject:', 'sender, To recipients, subject (any part)'],
  ['cc:, bcc:, reply-to:', 'those address headers (any part)'],
  ['addressed:', 'any of To, Cc, Bcc, Reply-To'],
  ['message-id:', 'any part of the Message-ID'],
  ['larger:, smaller:', 'message size, e.g. larger:2k, smaller:1.5M'],
  ['has:attachment, has:inline', 'attachments; inline images'],
  ['before:, after:', 'received date, e.g. after:2026-01-31 (from the start of that day)'],
  ['tag:, is:read, is:unread, is:tagged', 'tags and read state'],
  ['is:tls, is:auth, is:pregreet', 'TLS used, SMTP AUTH used, client spoke before the greeting'],
  ['is:unparsed, is:malformed', 'MIME that did not parse; MAIL FROM or RCPT TO that was not a valid path'],
  ['mailfrom:, rcpt:', 'SMTP envelope sender / recipient; mailfrom:<> for bounces'],
  ['ip:192.0.2.0/24, helo:', 'client IP (address or CIDR) and HELO name (helo:*.example globs)'],
  ['listener:', 'the listener that received it (smtp, smtps, lmtp, ...)'],
  ['spf:, dkim:, dmarc:, arc:', 'pass, fail, softfail, neutral, none, temperror, permerror'],
  ['kind:, status:5.1.1', 'bounce, arf, autoreply, message; a bounce recipient status'],
  ['origin:198.51.100.0/24', 'bounces of mail that server really sent (backscatter)'],
  ['other:word', 'an unknown prefix is searched as text'],
]

export function helpDialog() {
  const table = (rows) =>
    h(
      'table',
      { class: 'kv' },
      h('tbody', null, rows.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, h('kbd', null, k)), h('td', null, v)))),
    )
  const form = h(
    'form',
    { method: 'dialog' },
    h('h2', null, 'Keyboard shortcuts'),
    table(SHORTCUTS),
    h('h2', null, 'Search'),
    table(SEARCH_HELP),
    h('div', { class: 'dialog-buttons' }, h('button', { value: 'ok', type: 'submit', class: 'primary', autofocus: true }, 'Close')),
  )
  return open(h('dialog', { class: 'dialog help' }, form))
}

let toastTimer = 0
/** A short status line at the bottom of the screen (also read by screen readers). */
export function toast(text, isError = false) {
  const el = document.getElementById('toast')
  el.textContent = text
  el.classList.toggle('error', isError)
  el.hidden = false
  clearTimeout(toastTimer)
  toastTimer = setTimeout(() => (el.hidden = true), isError ? 6000 : 2500)
}
