/**
 * Shared helpers for the Intel PKI, quote and collateral tests: fixed times, a DER walk over a
 * certificate's extensions, and error capture. Pure (the tests read the vectors themselves).
 *
 * @module
 */
import {
  decodeDerBoolean,
  decodeDerExplicit,
  decodeDerOctetString,
  decodeDerOid,
  decodeDerSequence,
  isInitguardError,
  parseDer,
  type InitguardError,
} from '@initguard/core'

/** Validity of the test PKI's CAs. */
export const PKI_NOT_BEFORE = new Date('2024-01-01T00:00:00Z')
export const PKI_NOT_AFTER = new Date('2049-01-01T00:00:00Z')
/** Validity of PCK certificates (7 years, as Intel issues them). */
export const PCK_NOT_AFTER = new Date('2031-01-01T00:00:00Z')
/** The collateral window and a time inside it. */
export const ISSUE_DATE = new Date('2026-05-01T00:00:00Z')
export const NEXT_UPDATE = new Date('2026-05-31T00:00:00Z')
export const NOW = new Date('2026-05-15T12:00:00Z')

/** One extension of a certificate. */
export interface CertificateExtension {
  readonly oid: string
  readonly critical: boolean
  /** The `extnValue` contents. */
  readonly value: Uint8Array
  /** The whole `Extension` element. */
  readonly encoded: Uint8Array
}

/** The extensions of a DER certificate, in order. */
export function certificateExtensions(der: Uint8Array): CertificateExtension[] {
  const [tbs] = decodeDerSequence(parseDer(der), 'Certificate')
  const fields = decodeDerSequence(tbs, 'tbs')
  const last = fields[fields.length - 1]
  if (last?.tagClass !== 'context') return []
  return decodeDerSequence(decodeDerExplicit(last, 3, 'extensions'), 'extensions').map((e) => {
    const parts = decodeDerSequence(e, 'extension')
    return {
      oid: decodeDerOid(parts[0], 'oid'),
      critical: parts.length === 3 && decodeDerBoolean(parts[1], 'critical'),
      value: decodeDerOctetString(parts[parts.length - 1], 'value'),
      encoded: e.encoded,
    }
  })
}

/** The DER of the TBS field at `index` (0 version, 1 serial, 2 algorithm, 3 issuer, …, 5 subject). */
export function tbsField(der: Uint8Array, index: number): Uint8Array {
  const [tbs] = decodeDerSequence(parseDer(der), 'Certificate')
  const field = decodeDerSequence(tbs, 'tbs')[index]
  if (field === undefined) throw new Error(`no TBS field ${index}`)
  return field.encoded
}

/** The InitguardError `fn` throws; fails the test on anything else. */
export function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw e
  }
  throw new Error('expected an Initguard error, nothing was thrown')
}

/** The PEM certificate blocks in a text or a quote's bytes (read as Latin-1). */
export function pemBlocks(input: string | Uint8Array): string[] {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1')
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []
}
