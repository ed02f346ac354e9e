import { AppError } from '../errors.js'

// Mailpit's chaos triggers (GET/PUT /api/v1/chaos): for developers testing their retry logic, the
// SMTP listeners answer MAIL FROM (Sender), RCPT TO (Recipient) or AUTH (Authentication) with the
// trigger's error code at the trigger's probability. Off unless holdmail runs with --enable-chaos;
// one object is shared by every listener, so one PUT applies to all of them.

export interface ChaosTrigger {
  /** SMTP reply code, 400 to 599 (Mailpit's range). */
  ErrorCode: number
  /** Percent chance, 0 (never) to 100 (always). */
  Probability: number
}

export interface ChaosTriggers {
  Sender: ChaosTrigger
  Recipient: ChaosTrigger
  Authentication: ChaosTrigger
}

export type ChaosStage = keyof ChaosTriggers

export interface SmtpChaos {
  readonly enabled: boolean
  get(): ChaosTriggers
  /** Replaces the triggers named in `triggers` (others stay); throws AppError BAD_REQUEST when off or invalid. */
  set(triggers: Partial<ChaosTriggers>): ChaosTriggers
  /** The reply code to answer this command with, or null to go on as usual. */
  fire(stage: ChaosStage): number | null
}

// Mailpit's defaults: every trigger off, with the code it would use when only the probability is raised.
const DEFAULT_TRIGGER: ChaosTrigger = { ErrorCode: 451, Probability: 0 }
const STAGES: readonly ChaosStage[] = ['Sender', 'Recipient', 'Authentication']

function checkTrigger(stage: string, t: unknown): ChaosTrigger {
  const o = (t ?? {}) as Record<string, unknown>
  const code = o.ErrorCode ?? DEFAULT_TRIGGER.ErrorCode
  const probability = o.Probability ?? DEFAULT_TRIGGER.Probability
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599) {
    throw new AppError('BAD_REQUEST', `${stage}.ErrorCode must be a whole number from 400 to 599`)
  }
  if (typeof probability !== 'number' || !Number.isInteger(probability) || probability < 0 || probability > 100) {
    throw new AppError('BAD_REQUEST', `${stage}.Probability must be a whole number from 0 to 100`)
  }
  return { ErrorCode: code, Probability: probability }
}

export function createSmtpChaos(opts: { enabled: boolean; random?: () => number }): SmtpChaos {
  const random = opts.random ?? Math.random
  let triggers: ChaosTriggers = { Sender: { ...DEFAULT_TRIGGER }, Recipient: { ...DEFAULT_TRIGGER }, Authentication: { ...DEFAULT_TRIGGER } }
  const copy = (): ChaosTriggers => ({ Sender: { ...triggers.Sender }, Recipient: { ...triggers.Recipient }, Authentication: { ...triggers.Authentication } })
  return {
    enabled: opts.enabled,
    get: copy,
    set(input) {
      if (!opts.enabled) throw new AppError('BAD_REQUEST', 'chaos is disabled; start holdmail with --enable-chaos')
      const next = copy()
      for (const stage of STAGES) {
        if (input[stage] !== undefined) next[stage] = checkTrigger(stage, input[stage])
      }
      triggers = next // all or nothing: one bad trigger leaves the others as they were
      return copy()
    },
    fire(stage) {
      if (!opts.enabled) return null
      const t = triggers[stage]
      if (t.Probability <= 0) return null
      return random() * 100 < t.Probability ? t.ErrorCode : null
    },
  }
}
