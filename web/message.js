// One message: HTML (sandboxed iframe, remote content blocked until asked), text, headers in order,
// raw source, SMTP envelope, attachments, and the auth/analysis results. Every value from the
// message goes into text nodes.
import { api, htmlViewUrl, partUrl, rawUrl } from './api.js'
import { tagDialog, toast } from './dialogs.js'
import { clear, formatAddress, formatFullDate, formatSize, h, icon, printable, term } from './dom.js'
import { countRemote } from './remote.js'

const SOURCE_DISPLAY_BYTES = 2 * 1024 * 1024 // beyond this the <pre> gets slow; the download has it all

export function createMessageView(root, app) {
  // neighbours is a promise so that j/k pressed before it resolves still go somewhere.
  const state = { id: null, msg: null, tab: null, remote: false, neighbours: Promise.resolve({ Previous: null, Next: null }), seq: 0, spamAssassin: false }
  // Whether this server scores messages with SpamAssassin (--spamd): asked once per page load.
  const uiConfig = api.webui().catch(() => ({ SpamAssassin: false }))

  async function show(id) {
    root.hidden = false
    const seq = ++state.seq
    if (state.id !== id) {
      state.remote = false // remote content is allowed per message, per click
      state.tab = null
    }
    state.id = id
    let msg
    try {
      msg = await api.message(id)
    } catch (err) {
      if (seq !== state.seq) return
      clear(root, toolbar(null), h('div', { class: 'banner error', role: 'alert' }, err.status === 404 ? `Message ${id} not found (deleted?)` : err.message))
      return
    }
    state.spamAssassin = (await uiConfig).SpamAssassin === true
    if (seq !== state.seq) return
    state.msg = msg
    state.id = msg.ID
    document.title = `${msg.Subject || '(no subject)'} – holdmail`
    render()
    state.neighbours = api
      .neighbours(msg.ID, app.currentQuery())
      .catch(() => ({ Previous: null, Next: null }))
    void state.neighbours.then((n) => {
      if (seq !== state.seq) return
      root.querySelector('.nav-newer').disabled = !n.Previous
      root.querySelector('.nav-older').disabled = !n.Next
    })
  }

  function toolbar(msg) {
    const tool = (label, iconName, onClick, cls = '') =>
      h('button', { type: 'button', class: `tool ${cls}`, title: label, on: { click: onClick } }, icon(iconName), h('span', { class: 'label' }, label))
    return h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Message actions' },
      tool('Back to list', 'back', () => app.backToList(), 'back'),
      h('button', { type: 'button', class: 'pager nav-newer', title: 'Newer message (k)', 'aria-label': 'Newer message', disabled: true, on: { click: () => go(-1) } }, icon('up')),
      h('button', { type: 'button', class: 'pager nav-older', title: 'Older message (j)', 'aria-label': 'Older message', disabled: true, on: { click: () => go(1) } }, icon('down')),
      msg
        ? h(
            'div',
            { class: 'actions' },
            h('a', { class: 'tool download-eml', href: rawUrl(msg.ID, true), download: `${msg.ID}.eml`, title: 'Download the message exactly as received' }, icon('download'), h('span', { class: 'label' }, 'Download .eml')),
            tool('Copy ID', 'copy', () => copy(msg.ID), 'copy-id'),
            tool('Mark unread', 'mail', () => markUnread()),
            tool('Tag', 'tag', () => tagMessage()),
            tool('Abuse report', 'flag', () => abuseReport(msg), 'abuse-report'),
            tool('Delete', 'trash', () => remove(), 'danger'),
          )
        : null,
    )
  }

  function render() {
    const msg = state.msg
    const tabs = [
      ['html', 'HTML', msg.HTML !== ''],
      ['text', 'Text', true],
      ['headers', 'Headers', true],
      ['source', 'Source', true],
      ['envelope', 'Envelope', true],
      ['attachments', `Attachments (${msg.Attachments.length + msg.Inline.length})`, msg.Attachments.length + msg.Inline.length > 0],
      ['analysis', 'Analysis', Boolean(msg.Auth || msg.Analysis || state.spamAssassin)],
    ].filter((t) => t[2])
    if (!state.tab || !tabs.some((t) => t[0] === state.tab)) state.tab = msg.HTML ? 'html' : 'text'

    const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Message parts' })
    const panel = h('div', { class: 'panel', role: 'tabpanel', tabindex: '-1' })
    for (const [key, label] of tabs) {
      tablist.append(
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            id: `tab-${key}`,
            class: `tab tab-${key}`,
            'aria-selected': String(state.tab === key),
            tabindex: state.tab === key ? '0' : '-1',
            on: { click: () => selectTab(key), keydown: (e) => tabKeys(e, tabs) },
          },
          label,
        ),
      )
    }
    clear(root, toolbar(msg), summary(msg), tablist, panel)
    renderPanel(panel)
  }

  function tabKeys(e, tabs) {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return
    const i = tabs.findIndex((t) => t[0] === state.tab)
    const next = tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length][0]
    selectTab(next)
    root.querySelector(`#tab-${next}`)?.focus()
  }

  function selectTab(key) {
    state.tab = key
    for (const t of root.querySelectorAll('[role=tab]')) {
      const on = t.id === `tab-${key}`
      t.setAttribute('aria-selected', String(on))
      t.tabIndex = on ? 0 : -1
    }
    renderPanel(root.querySelector('.panel'))
  }

  function addressLine(label, list) {
    if (!list || list.length === 0) return null
    return [
      h('dt', null, label),
      h(
        'dd',
        null,
        list.map((a, i) => [
          i ? ', ' : '',
          h('button', { type: 'button', class: 'link', title: `Search ${term(label === 'From' ? 'from' : 'to', a.Address)}`, on: { click: () => app.search(term(label === 'From' ? 'from' : 'to', a.Address || a.Name)) } }, printable(formatAddress(a))),
        ]),
      ),
    ]
  }

  function summary(msg) {
    const env = msg.Envelope
    return h(
      'div',
      { class: 'msg-summary' },
      h(
        'h1',
        { class: 'subject' },
        printable(msg.Subject || '(no subject)'),
        msg.Kind && msg.Kind !== 'message' ? h('span', { class: `badge kind kind-${msg.Kind.replace(/[^a-z]/g, '')}` }, msg.Kind) : null,
      ),
      msg.ParseError ? h('div', { class: 'banner warn' }, `This message could not be fully parsed: ${msg.ParseError}. The source and envelope are complete.`) : null,
      h(
        'dl',
        { class: 'addresses' },
        addressLine('From', msg.From && (msg.From.Address || msg.From.Name) ? [msg.From] : []),
        env && (env.MailFrom ?? '').toLowerCase() !== (msg.From?.Address ?? '').toLowerCase()
          ? [h('dt', null, 'MAIL FROM'), h('dd', null, h('button', { type: 'button', class: 'link', on: { click: () => app.search(env.MailFrom ? term('mailfrom', env.MailFrom) : 'mailfrom:<>') } }, printable(env.MailFrom || '<>')))]
          : null,
        addressLine('To', msg.To),
        addressLine('Cc', msg.Cc),
        addressLine('Bcc', msg.Bcc),
        addressLine('Reply-To', msg.ReplyTo),
        [h('dt', null, 'Date'), h('dd', null, formatFullDate(msg.Date), ' · received ', formatFullDate(msg.Created), ' · ', formatSize(msg.Size))],
        env?.ClientIP
          ? [
              h('dt', null, 'Client'),
              h('dd', null, h('button', { type: 'button', class: 'link ip', on: { click: () => app.search(term('ip', env.ClientIP)) } }, env.ClientIP), env.Helo ? ` · HELO ${printable(env.Helo)}` : ''),
            ]
          : null,
        msg.Tags.length
          ? [
              h('dt', null, 'Tags'),
              h(
                'dd',
                { class: 'tags' },
                msg.Tags.map((t) =>
                  h(
                    'span',
                    { class: 'tag-chip' },
                    h('button', { type: 'button', class: 'tag', on: { click: () => app.search(term('tag', t)) } }, printable(t)),
                    h('button', { type: 'button', class: 'tag-remove', 'aria-label': `Remove tag ${t}`, title: 'Remove tag', on: { click: () => setTags(msg.Tags.filter((x) => x !== t)) } }, '×'),
                  ),
                ),
              ),
            ]
          : null,
      ),
    )
  }

  // ---- abuse report (ARF draft) -------------------------------------------------------------
  const FEEDBACK_TYPES = ['abuse', 'fraud', 'virus', 'other', 'not-spam', 'auth-failure']

  function senderDomain(msg) {
    const a = msg.From?.Address || msg.Envelope?.MailFrom || ''
    return a.includes('@') ? a.slice(a.lastIndexOf('@') + 1).toLowerCase() : ''
  }

  /** A small form for the contact and feedback type; downloads the server's RFC 5965 draft. */
  function abuseReport(msg) {
    const domain = senderDomain(msg)
    const to = h('input', {
      type: 'text',
      name: 'to',
      maxlength: 320,
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: domain ? `abuse@${domain} (default)` : 'abuse@example.net',
      'aria-describedby': 'arf-to-help',
    })
    const type = h('select', { name: 'type' }, FEEDBACK_TYPES.map((t) => h('option', { value: t }, t)))
    const status = h('div', { class: 'arf-status', role: 'status' })
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Download report')
    const dialog = h('dialog', { class: 'dialog arf-dialog' })
    const form = h(
      'form',
      {
        on: {
          submit: async (e) => {
            e.preventDefault()
            submit.disabled = true
            clear(status, 'Preparing…')
            try {
              const blob = await api.arfReport(msg.ID, to.value.trim(), type.value)
              const url = URL.createObjectURL(blob)
              const a = document.createElement('a')
              a.href = url
              a.download = `arf-${msg.ID}.eml`
              document.body.appendChild(a)
              a.click()
              a.remove()
              setTimeout(() => URL.revokeObjectURL(url), 60_000)
              dialog.close()
              toast('Abuse report draft downloaded; holdmail does not send it')
            } catch (err) {
              clear(status, h('div', { class: 'banner error', role: 'alert' }, err.message))
            } finally {
              submit.disabled = false
            }
          },
        },
      },
      h('h2', null, 'Abuse report (ARF)'),
      h('p', { class: 'muted' }, 'An RFC 5965 report draft with this message attached byte for byte. holdmail never sends it.'),
      h('label', { class: 'field' }, h('span', null, 'Abuse contact'), to),
      h('p', { class: 'muted field-help', id: 'arf-to-help' }, domain ? `Leave empty for abuse@${domain}.` : 'This message has no sending domain: give a contact.'),
      h('label', { class: 'field' }, h('span', null, 'Feedback type'), type),
      status,
      h(
        'div',
        { class: 'dialog-buttons' },
        h('button', { type: 'button', on: { click: () => dialog.close() } }, 'Cancel'),
        submit,
      ),
    )
    dialog.append(form)
    dialog.addEventListener('close', () => dialog.remove())
    document.body.appendChild(dialog)
    dialog.showModal()
    to.focus()
  }

  // ---- panels -------------------------------------------------------------------------------
  function renderPanel(panel) {
    const msg = state.msg
    const id = msg.ID
    switch (state.tab) {
      case 'html':
        return clear(panel, htmlPanel(msg))
      case 'text':
        return clear(panel, msg.Text ? h('pre', { class: 'text-body' }, msg.Text) : h('p', { class: 'muted' }, 'This message has no text part.'))
      case 'headers': {
        clear(panel, h('p', { class: 'muted' }, 'Loading headers…'))
        api.headerLines(id).then(
          (lines) => {
            if (state.msg?.ID !== id || state.tab !== 'headers') return
            clear(
              panel,
              h(
                'table',
                { class: 'headers-table' },
                h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Value'))),
                h('tbody', null, lines.map((l) => h('tr', null, h('th', { scope: 'row' }, printable(l.Name)), h('td', null, printable(l.Value))))),
              ),
            )
          },
          (err) => clear(panel, h('div', { class: 'banner error' }, err.message)),
        )
        return
      }
      case 'source': {
        clear(panel, h('p', { class: 'muted' }, 'Loading source…'))
        api.raw(id).then(
          (bytes) => {
            if (state.msg?.ID !== id || state.tab !== 'source') return
            const shown = bytes.subarray(0, SOURCE_DISPLAY_BYTES)
            clear(
              panel,
              h(
                'p',
                { class: 'source-info' },
                h('span', { class: 'byte-count' }, `${bytes.length.toLocaleString()} bytes`),
                ' exactly as received',
                bytes.length > shown.length ? ` (showing the first ${shown.length.toLocaleString()}; download the .eml for all)` : '',
                ' · ',
                h('a', { href: rawUrl(id, true), download: `${id}.eml` }, 'download .eml'),
              ),
              h('pre', { class: 'source' }, new TextDecoder('utf-8').decode(shown)),
            )
          },
          (err) => clear(panel, h('div', { class: 'banner error' }, err.message)),
        )
        return
      }
      case 'envelope':
        return clear(panel, envelopePanel(msg))
      case 'attachments':
        return clear(panel, attachmentsPanel(msg))
      case 'analysis':
        return clear(panel, analysisPanel(msg))
    }
  }

  function htmlPanel(msg) {
    const blocked = countRemote(msg.HTML)
    const frame = h('iframe', {
      // No allow-scripts, no allow-same-origin, no forms, no top navigation: the sample can only draw.
      sandbox: 'allow-popups allow-popups-to-escape-sandbox',
      referrerpolicy: 'no-referrer',
      title: 'Message HTML',
      class: 'html-frame',
      src: htmlViewUrl(msg.ID, state.remote),
    })
    const bar = h('div', { class: `remote-bar${state.remote ? ' loaded' : ''}`, role: 'status' })
    if (state.remote) {
      bar.append('Remote content is loaded for this message.')
    } else if (blocked > 0) {
      bar.append(
        h('span', { class: 'remote-count' }, `${blocked} remote ${blocked === 1 ? 'resource' : 'resources'} blocked`),
        ' — loading them tells the sender this address is live. ',
        h('button', { type: 'button', class: 'load-remote', on: { click: () => loadRemote() } }, 'Load remote content'),
      )
    } else {
      bar.append('No remote content.')
    }
    return [bar, frame]
  }

  function loadRemote() {
    if (!state.msg || state.remote) return
    state.remote = true
    if (state.tab !== 'html') state.tab = 'html'
    render()
  }

  function kvTable(rows) {
    return h(
      'table',
      { class: 'kv' },
      h('tbody', null, rows.filter(Boolean).map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v)))),
    )
  }

  const params = (p) =>
    p && Object.keys(p).length ? h('span', { class: 'muted' }, ' ' + Object.entries(p).map(([k, v]) => `${k}=${v}`).join(' ')) : null

  function envelopePanel(msg) {
    const e = msg.Envelope
    if (!e) return h('p', { class: 'muted' }, 'No envelope recorded.')
    const ipSource = {
      connection: 'the TCP connection',
      xclient: 'XCLIENT from a trusted relay',
      xforward: 'XFORWARD from a trusted relay',
      received: "a trusted relay's Received header",
    }[e.IPSource] ?? e.IPSource
    return kvTable([
      ['MAIL FROM', [h('code', null, printable(`<${e.MailFrom}>`)), params(e.MailFromParams)]],
      [
        `RCPT TO (${e.RcptTo.length})`,
        h('ul', { class: 'rcpts' }, e.RcptTo.map((r, i) => h('li', null, h('code', null, printable(`<${r}>`)), params(e.RcptParams?.[i])))),
      ],
      ['Client IP', [h('button', { type: 'button', class: 'link ip', on: { click: () => app.search(term('ip', e.ClientIP)) } }, e.ClientIP), e.ClientPort ? ` port ${e.ClientPort}` : ' (port not known)']],
      ['IP source', ipSource],
      e.ClientHostname ? ['Client hostname', printable(e.ClientHostname)] : null,
      ['HELO', h('code', null, printable(e.Helo || '(none)'))],
      ['TLS', e.TLS ? `${e.TLS.Protocol} ${e.TLS.Cipher}` : 'no'],
      ['AUTH user', e.AuthUser ? printable(e.AuthUser) : 'none'],
      ['Relay', e.Relay ? `${e.Relay.IP} port ${e.Relay.Port}` : 'none (direct)'],
      ['Listener', e.Listener],
      ['Queue ID', h('code', null, msg.ID)],
      ['Received', formatFullDate(e.Received) + ` (${e.Received})`],
      ['Connection', `${e.ConnectionID} · transaction ${e.Transaction}`],
      ['Pregreet', e.Pregreet ? 'yes: the client talked before the greeting' : 'no'],
      ['SHA-256', h('code', { class: 'hash' }, e.SHA256)],
    ])
  }

  function attachmentsPanel(msg) {
    const parts = [...msg.Attachments.map((a) => ({ ...a, inline: false })), ...msg.Inline.map((a) => ({ ...a, inline: true }))]
    return h(
      'table',
      { class: 'attachments' },
      h('thead', null, h('tr', null, ['Name', 'Type', 'Size', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        null,
        parts.map((p) =>
          h(
            'tr',
            null,
            h('td', null, printable(p.FileName || `part ${p.PartID}`), p.inline ? h('span', { class: 'badge' }, 'inline') : null),
            h('td', null, printable(p.ContentType)),
            h('td', null, formatSize(p.Size)),
            h('td', null, h('a', { href: partUrl(msg.ID, p.PartID), download: p.FileName || `part-${p.PartID}` }, 'Download')),
          ),
        ),
      ),
    )
  }

  // ---- auth / analysis ----------------------------------------------------------------------
  const RESULT_CLASS = { pass: 'good', fail: 'bad', softfail: 'warn', permerror: 'bad', temperror: 'warn', neutral: 'meh', none: 'meh', policy: 'warn' }
  const result = (r) => h('span', { class: `result ${RESULT_CLASS[String(r).toLowerCase()] ?? 'meh'}` }, String(r ?? '?'))

  function analysisPanel(msg) {
    const out = []
    const auth = msg.Auth
    if (auth) {
      out.push(h('h2', null, 'Authentication'))
      const rows = []
      if (auth.SPF) {
        const s = auth.SPF
        rows.push([
          'SPF',
          [result(s.Result), s.Domain ? ` ${printable(s.Domain)}` : '', s.IP ? ` · IP ${s.IP}` : '', s.IPSource ? ` (from ${s.IPSource})` : '', s.Helo ? ` · HELO ${printable(s.Helo)}` : '', s.Explanation ? h('div', { class: 'muted' }, printable(s.Explanation)) : null],
        ])
      }
      if (Array.isArray(auth.DKIM)) {
        if (auth.DKIM.length === 0) rows.push(['DKIM', [result('none'), ' no signature']])
        auth.DKIM.forEach((d, i) =>
          rows.push([
            auth.DKIM.length > 1 ? `DKIM #${i + 1}` : 'DKIM',
            [result(d.Result), ` d=${printable(d.Domain ?? '')}`, d.Selector ? ` s=${printable(d.Selector)}` : '', d.Algorithm ? ` a=${d.Algorithm}` : '', d.Aligned ? ' · aligned' : ''],
          ]),
        )
      }
      if (auth.DMARC) {
        const d = auth.DMARC
        rows.push(['DMARC', [result(d.Result), d.Domain ? ` ${printable(d.Domain)}` : '', d.Policy ? ` · policy ${d.Policy}` : '', d.Aligned ? ' · aligned' : '']])
      }
      if (auth.ARC) rows.push(['ARC', result(auth.ARC.Result)])
      for (const [k, v] of Object.entries(auth)) if (!['SPF', 'DKIM', 'DMARC', 'ARC'].includes(k)) rows.push([k, generic(v)])
      out.push(kvTable(rows))
    }
    const analysis = msg.Analysis
    if (analysis) {
      for (const [key, value] of Object.entries(analysis)) {
        // Kind is already the badge next to the subject.
        if (value === null || value === undefined || key === 'Kind') continue
        out.push(h('h2', null, key === 'Bounce' ? 'Bounce (delivery status notification)' : key === 'Feedback' ? 'Feedback report (ARF)' : key))
        out.push(key === 'Bounce' ? bounce(value) : generic(value))
      }
    }
    out.push(spamAssassin(msg))
    return out
  }

  const points = (n) => (typeof n === 'number' ? n.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 3 }) : '?')

  /**
   * SpamAssassin's stored verdict (GET /sa-check): score, the verdict against spamd's threshold and
   * the rules that hit. Fetched when the tab opens. Without --spamd the section stays hidden unless
   * the database holds a verdict from an earlier run; with it, an unscored message says "Not checked".
   */
  function spamAssassin(msg) {
    const id = msg.ID
    const heading = h('h2', null, 'SpamAssassin')
    const section = h('section', { class: 'sa-check', hidden: !state.spamAssassin }, heading, h('p', { class: 'muted' }, 'Loading…'))
    api.saCheck(id).then(
      (r) => {
        if (state.msg?.ID !== id || state.tab !== 'analysis') return
        if (r.Error) {
          if (!state.spamAssassin) return section.remove()
          return clear(section, heading, h('p', { class: 'sa-not-checked' }, h('span', { class: 'result meh' }, 'not checked'), ' ', h('span', { class: 'muted' }, printable(r.Error))))
        }
        const threshold = typeof r.Threshold === 'number' ? r.Threshold : null
        const verdict = [
          h('span', { class: `result sa-verdict ${r.IsSpam ? 'bad' : 'good'}` }, r.IsSpam ? 'spam' : 'not spam'),
          threshold === null ? '' : ` score ${points(r.Score)} ${r.IsSpam ? '≥' : '<'} threshold ${points(threshold)}`,
        ]
        const rules = Array.isArray(r.Rules) ? r.Rules : []
        section.hidden = false
        clear(
          section,
          heading,
          kvTable([['Verdict', verdict], ['Score', h('span', { class: 'sa-score' }, points(r.Score))]]),
          rules.length === 0
            ? h('p', { class: 'muted sa-no-rules' }, 'No rules hit.')
            : h(
                'table',
                { class: 'sa-rules' },
                h('thead', null, h('tr', null, ['Score', 'Rule', 'Description'].map((c) => h('th', { scope: 'col' }, c)))),
                h(
                  'tbody',
                  null,
                  rules.map((rule) =>
                    h('tr', { class: 'sa-rule' }, h('td', { class: 'sa-rule-score' }, points(rule.Score)), h('td', { class: 'sa-rule-name' }, printable(rule.Name)), h('td', null, printable(rule.Description ?? ''))),
                  ),
                ),
              ),
        )
      },
      (err) => {
        if (state.msg?.ID !== id || state.tab !== 'analysis') return
        section.hidden = false
        clear(section, heading, h('div', { class: 'banner error' }, err.message))
      },
    )
    return section
  }

  function bounce(b) {
    const recipients = Array.isArray(b.Recipients) ? b.Recipients : []
    return [
      kvTable([
        b.Format ? ['Format', b.Format] : null,
        b.ReportingMTA ? ['Reporting MTA', printable(b.ReportingMTA)] : null,
        b.ArrivalDate ? ['Arrival date', printable(b.ArrivalDate)] : null,
      ]),
      recipients.length
        ? h(
            'table',
            { class: 'bounce-rcpts' },
            h('thead', null, h('tr', null, ['Recipient', 'Action', 'Status', 'Diagnostic', 'Remote MTA'].map((c) => h('th', { scope: 'col' }, c)))),
            h(
              'tbody',
              null,
              recipients.map((r) =>
                h(
                  'tr',
                  null,
                  h('td', null, printable(r.FinalRecipient || r.OriginalRecipient || '')),
                  h('td', null, printable(r.Action ?? '')),
                  h('td', null, h('button', { type: 'button', class: 'link', on: { click: () => app.search(term('status', r.Status)) } }, printable(r.Status ?? ''))),
                  h('td', null, printable(r.DiagnosticCode ?? '')),
                  h('td', null, printable(r.RemoteMTA ?? '')),
                ),
              ),
            ),
          )
        : null,
      b.Original ? [h('h3', null, 'Original message'), generic(b.Original)] : null,
    ]
  }

  /** Any JSON value as nested tables; arrays of similar objects become one table. */
  function generic(v, depth = 0) {
    if (v === null || v === undefined) return h('span', { class: 'muted' }, '—')
    if (typeof v !== 'object') {
      const s = String(v)
      return /^(pass|fail|softfail|neutral|none|temperror|permerror)$/i.test(s) ? result(s) : printable(s)
    }
    if (depth > 6) return printable(JSON.stringify(v))
    if (Array.isArray(v)) {
      if (v.length === 0) return h('span', { class: 'muted' }, 'none')
      if (v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
        const cols = [...new Set(v.flatMap((x) => Object.keys(x)))]
        return h(
          'table',
          { class: 'generic' },
          h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', null, v.map((x) => h('tr', null, cols.map((c) => h('td', null, generic(x[c], depth + 1)))))),
        )
      }
      return h('ul', { class: 'plain' }, v.map((x) => h('li', null, generic(x, depth + 1))))
    }
    const entries = Object.entries(v)
    if (entries.length === 0) return h('span', { class: 'muted' }, '—')
    return kvTable(entries.map(([k, x]) => [k, generic(x, depth + 1)]))
  }

  // ---- actions ------------------------------------------------------------------------------
  async function go(delta) {
    const seq = state.seq
    const n = await state.neighbours
    if (seq !== state.seq) return
    const target = delta < 0 ? n.Previous : n.Next
    if (target) app.openMessage(target)
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text)
      toast(`Copied ${text}`)
    } catch {
      // Clipboard API refused (not a secure context, or no permission): fall back to a selection copy.
      const input = h('input', { value: text, readonly: true, class: 'offscreen' })
      document.body.appendChild(input)
      input.select()
      const ok = document.execCommand('copy')
      input.remove()
      toast(ok ? `Copied ${text}` : `Message ID: ${text}`, !ok)
    }
  }

  async function markUnread() {
    try {
      await api.setRead({ ids: [state.msg.ID] }, false)
      toast('Marked unread')
      app.backToList()
    } catch (err) {
      toast(err.message, true)
    }
  }

  async function setTags(tags) {
    try {
      await api.setTags([state.msg.ID], tags)
      state.msg.Tags = tags
      render()
    } catch (err) {
      toast(err.message, true)
    }
  }

  async function tagMessage() {
    const known = await api.tags().catch(() => [])
    const answer = await tagDialog(1, known)
    if (!answer) return
    const tags = answer.action === 'add' ? [...new Set([...state.msg.Tags, answer.tag])] : state.msg.Tags.filter((t) => t !== answer.tag)
    await setTags(tags)
  }

  async function remove() {
    const msg = state.msg
    if (!msg) return
    const n = await state.neighbours
    const next = n.Next ?? n.Previous
    try {
      await api.remove({ ids: [msg.ID] })
      toast('Message deleted')
      if (next) app.openMessage(next, { replace: true })
      else app.backToList()
    } catch (err) {
      toast(err.message, true)
    }
  }

  return {
    show,
    hide() {
      root.hidden = true
      state.seq++
    },
    get id() {
      return state.id
    },
    next: () => go(1),
    previous: () => go(-1),
    remove,
    loadRemote,
    onEvent(ev) {
      // Opened before the indexer got to it: show the parsed view once it has.
      if (ev.type === 'indexed' && state.msg && !state.msg.Indexed && ev.ids.includes(state.msg.ID) && !root.hidden) void show(state.msg.ID)
    },
  }
}

