import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { generate } from 'selfsigned'

export interface TlsMaterial {
  key: string
  cert: string
  generated: boolean
  path: string | null // where a generated pair is kept, null for ':memory:' stores
}

const CERT_VALID_DAYS = 3650

/**
 * The certificate STARTTLS and SMTPS present: the operator's files, or a self-signed pair made on
 * first start and kept next to the database so that clients pinning it see the same one next time.
 */
export async function loadTlsMaterial(
  files: { certFile: string; keyFile: string } | null,
  dbPath: string,
  hostname: string,
): Promise<TlsMaterial> {
  if (files) {
    return { key: readFileSync(files.keyFile, 'utf8'), cert: readFileSync(files.certFile, 'utf8'), generated: false, path: null }
  }
  const dir = dbPath === ':memory:' ? null : dirname(dbPath)
  const keyPath = dir ? join(dir, 'holdmail-tls.key') : null
  const certPath = dir ? join(dir, 'holdmail-tls.crt') : null
  if (keyPath && certPath && existsSync(keyPath) && existsSync(certPath)) {
    return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), generated: false, path: certPath }
  }
  const now = new Date()
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keySize: 2048, // selfsigned 5 fails on EC keys ("Cannot get schema for 'AlgorithmIdentifier'")
    notBeforeDate: new Date(now.getTime() - 86_400_000),
    notAfterDate: new Date(now.getTime() + CERT_VALID_DAYS * 86_400_000),
  })
  if (keyPath && certPath) {
    writeFileSync(keyPath, pems.private, { mode: 0o600 })
    writeFileSync(certPath, pems.cert)
  }
  return { key: pems.private, cert: pems.cert, generated: true, path: certPath }
}
