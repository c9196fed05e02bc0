/**
 * Recognise the forms DCAP evidence comes in: a raw quote (as from configfs-tsm `outblob` or the
 * QGS), or Trustee's evidence JSON — TDX `{"cc_eventlog": "<base64>"|null, "quote": "<base64>"}`,
 * SGX `{"quote": "<base64>"}`.
 *
 * @module
 */
import {
  MalformedInputError,
  base64ToBytes,
  parseJsonBytes,
  startsAsJsonObject,
} from '@initguard/core'
import { parseDcapQuote, type DcapQuote } from './quote.ts'

/** The forms DCAP evidence is recognised in. */
export type DcapEvidenceFormat = 'quote' | 'trustee-json'

/** Evidence and the form it came in. */
export interface DcapEvidence {
  readonly format: DcapEvidenceFormat
  readonly quote: DcapQuote
  /** The CCEL event log (TDX, Trustee JSON only), raw. */
  readonly eventLog: Uint8Array | undefined
}

/** True when `bytes` look like a DCAP quote: attestation key type 2 at offset 2, version 3–5. */
export function looksLikeDcapQuote(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 8 &&
    bytes[2] === 2 &&
    bytes[3] === 0 &&
    bytes[1] === 0 &&
    (bytes[0] === 3 || bytes[0] === 4 || bytes[0] === 5)
  )
}

/**
 * Parse evidence in whichever form it is.
 *
 * @throws {@link MalformedInputError} `ERR_TDX_EVIDENCE_JSON` for JSON of another shape,
 *   `ERR_UTF8_INVALID` for JSON text that is not UTF-8, `ERR_BASE64_INVALID` for a quote or event
 *   log that is not canonical base64, and the quote parser's errors.
 */
export function parseDcapEvidence(bytes: Uint8Array): DcapEvidence {
  if (!startsAsJsonObject(bytes))
    return { format: 'quote', quote: parseDcapQuote(bytes), eventLog: undefined }
  return parseTrusteeDcapEvidence(parseJsonBytes(bytes, 'evidence', 'ERR_TDX_EVIDENCE_JSON'))
}

/**
 * Parse Trustee's TDX/SGX evidence JSON once it is a JSON value (as the KBS receives
 * `primary_evidence`): `{"quote": base64, "cc_eventlog"?: base64|null}`, nothing else.
 *
 * @throws {@link MalformedInputError} `ERR_TDX_EVIDENCE_JSON` for another shape,
 *   `ERR_BASE64_INVALID` for a quote or event log that is not canonical base64, and the quote
 *   parser's errors.
 */
export function parseTrusteeDcapEvidence(json: unknown): DcapEvidence {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new MalformedInputError('ERR_TDX_EVIDENCE_JSON', 'the evidence JSON is not an object')
  }
  const record = json as Record<string, unknown>
  const unknown = Object.keys(record).filter((k) => k !== 'quote' && k !== 'cc_eventlog')
  if (unknown.length > 0 || typeof record['quote'] !== 'string') {
    throw new MalformedInputError(
      'ERR_TDX_EVIDENCE_JSON',
      unknown.length > 0
        ? `the evidence JSON has unknown keys: ${unknown.join(', ')}`
        : 'the evidence JSON has no "quote" string',
      {
        hint: 'Trustee TDX evidence is {"cc_eventlog": base64|null, "quote": base64}; SGX is {"quote": base64}',
      },
    )
  }
  const eventLog = record['cc_eventlog']
  if (eventLog !== undefined && eventLog !== null && typeof eventLog !== 'string') {
    throw new MalformedInputError(
      'ERR_TDX_EVIDENCE_JSON',
      '"cc_eventlog" must be a base64 string or null',
    )
  }
  return {
    format: 'trustee-json',
    quote: parseDcapQuote(base64ToBytes(record['quote'], { field: 'quote' })),
    eventLog:
      typeof eventLog === 'string' ? base64ToBytes(eventLog, { field: 'cc_eventlog' }) : undefined,
  }
}
