import type { Config } from '../config/index.js'
import { createSmtpChaos, type SmtpChaos } from './smtp-chaos.js'
import { createSmtpLimits, type SmtpLimits } from './smtp-limits.js'

export interface SharedListenerOptions {
  limits: SmtpLimits
  chaos: SmtpChaos
  dataTimeoutMs: number
  idleTimeoutMs: number
}

/**
 * What every SMTP/LMTP listener of the process shares, built once from the Config and spread into
 * each createSmtpListener call: one connection count, one DATA memory budget and one set of chaos
 * triggers for all of them. `limits.fdNotice` is set when the open-file limit lowered
 * --max-connections (worth a warning at start).
 */
export function sharedListenerOptions(
  config: Pick<Config, 'maxConnections' | 'maxConnectionsPerIp' | 'maxDataMemoryBytes' | 'dataTimeoutMs' | 'idleTimeoutMs' | 'enableChaos'>,
): SharedListenerOptions {
  return {
    limits: createSmtpLimits({
      maxConnections: config.maxConnections,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      maxDataBytes: config.maxDataMemoryBytes,
    }),
    chaos: createSmtpChaos({ enabled: config.enableChaos }),
    dataTimeoutMs: config.dataTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
  }
}
