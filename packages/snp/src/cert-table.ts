/**
 * The SEV-SNP extended-report certificate table: what `SNP_GET_EXT_REPORT` (and the Linux
 * `configfs-tsm` `auxblob`) returns next to the report, carrying the VCEK or VLEK and the AMD CA
 * certificates the host installed.
 *
 * ```text
 * table   = entry* terminator payload*        (offsets are relative to the table start)
 * entry   = GUID[16] ‖ offset u32 LE ‖ length u32 LE   (24 bytes)
 * terminator = 24 zero bytes
 * ```
 *
 * @see AMD SEV-SNP GHCB specification (56421), "SNP Extended Guest Request"; verifiers.md §1.7
 * @module
 */
import { ByteReader, MalformedInputError, UsageError, requireUint8Array } from '@initguard/core'
import { parseSnpReport, SNP_REPORT_SIZE, type SnpReport } from './report.ts'

/** What a certificate-table entry holds, by its GUID; `'other'` for a GUID not listed here. */
export type CertTableKind = 'vcek' | 'vlek' | 'ask' | 'ark' | 'crl' | 'other'

/** The certificate kinds with a GUID of their own. */
export type KnownCertTableKind = Exclude<CertTableKind, 'other'>

/**
 * The GUIDs AMD and the Linux kernel define, in RFC 4122 string form. The ASK GUID also carries
 * the ASVK in a VLEK chain.
 */
export const CERT_TABLE_GUIDS: Readonly<Record<KnownCertTableKind, string>> = {
  vcek: '63da758d-e664-4564-adc5-f4b93be8accd',
  vlek: 'a8074bc2-a25a-483e-aae6-39c045a0b8a1',
  ask: '4ab7b379-bbac-4fe4-a02f-05aef327c782',
  ark: 'c0b406a4-a803-4952-9743-3fb6014cd0ae',
  crl: '92f81bc3-5811-4d3d-97ff-d19f88dc67ea',
}

const GUID_BY_KIND: ReadonlyMap<string, string> = new Map(Object.entries(CERT_TABLE_GUIDS))
const KIND_BY_GUID: ReadonlyMap<string, KnownCertTableKind> = new Map(
  Object.entries(CERT_TABLE_GUIDS).map(([kind, guid]) => [guid, kind as KnownCertTableKind]),
)

/** One certificate (or other payload) from a certificate table or a Trustee `cert_chain`. */
export interface CertTableEntry {
  /** What the entry holds, by GUID. */
  readonly kind: CertTableKind
  /** The GUID, lower-case RFC 4122 string form (kept for every kind, so `'other'` stays identifiable). */
  readonly guid: string
  /** The payload, usually a DER certificate; a private copy. */
  readonly data: Uint8Array
}

/** An entry for {@link buildCertTable}: a known kind (GUID optional) or `'other'` with a GUID. */
export interface CertTableEntryInput {
  /** What the entry holds; `'other'` needs `guid`. */
  readonly kind: CertTableKind
  /** The GUID; must match `kind` when the kind has a GUID of its own. */
  readonly guid?: string
  /** The payload; at least one byte. */
  readonly data: Uint8Array
}

/** A parsed extended report: the report and the certificates the host supplied with it. */
export interface ExtendedReport {
  /** The 0x4A0-byte report. */
  readonly report: SnpReport
  /** The certificate table's entries, in table order. */
  readonly certificates: readonly CertTableEntry[]
}

const ENTRY_SIZE = 24
const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const NIL_GUID = '00000000-0000-0000-0000-000000000000'
const U32_MAX = 0xffff_ffff

/** Bytes 0..15 in RFC 4122 string order (not the mixed-endian Microsoft GUID order). */
function guidToString(bytes: Uint8Array): string {
  let hex = ''
  for (const b of bytes) hex += b.toString(16).padStart(2, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function guidToBytes(guid: string): Uint8Array {
  const hex = guid.replaceAll('-', '')
  return Uint8Array.from({ length: 16 }, (_, i) => Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16))
}

/**
 * The kind a GUID stands for.
 *
 * @internal shared with the Trustee evidence parser.
 */
export function certKindOfGuid(guid: string): CertTableKind {
  return KIND_BY_GUID.get(guid) ?? 'other'
}

/** `guid` in lower case when it is an RFC 4122 string (either case), else undefined. */
export function normalizeGuid(guid: string): string | undefined {
  const lower = guid.toLowerCase()
  return GUID_PATTERN.test(lower) ? lower : undefined
}

function tableError(
  code: `ERR_${string}`,
  message: string,
  details: Record<string, number | string>,
  hint?: string,
): MalformedInputError {
  return new MalformedInputError(code, `SNP certificate table: ${message}`, {
    details,
    ...(hint === undefined ? {} : { hint }),
  })
}

interface RawEntry {
  readonly index: number
  readonly guid: string
  readonly offset: number
  readonly length: number
}

/**
 * Parse an SEV-SNP certificate table (layout in the module comment). Bytes after the last payload
 * (the zero padding of the page-sized buffer the host fills) are ignored.
 *
 * Every entry must have a non-zero length and lie wholly inside the buffer, after the header (the
 * entries and the terminator); entries may not overlap and no GUID may appear twice (two VCEKs
 * would leave it to chance which one a verifier picks). Unknown GUIDs are kept as `'other'`.
 *
 * @example
 * ```ts
 * const certs = parseCertTable(auxblob)
 * const vcek = certs.find((c) => c.kind === 'vcek')?.data
 * ```
 *
 * @throws {@link MalformedInputError}
 * - `ERR_SNP_CERT_TABLE_UNTERMINATED`: the buffer ends before an all-zero entry;
 * - `ERR_SNP_CERT_TABLE_TERMINATOR`: an entry with the zero GUID has a non-zero offset or length;
 * - `ERR_SNP_CERT_TABLE_ENTRY_EMPTY`: an entry has length 0;
 * - `ERR_SNP_CERT_TABLE_ENTRY_OFFSET`: an entry's payload starts inside the header;
 * - `ERR_SNP_CERT_TABLE_ENTRY_RANGE`: an entry's payload runs past the end of the buffer;
 * - `ERR_SNP_CERT_TABLE_ENTRY_OVERLAP`: two entries' payloads overlap;
 * - `ERR_SNP_CERT_TABLE_DUPLICATE_GUID`: a GUID appears twice.
 * @throws {@link UsageError} `ERR_SNP_INPUT_TYPE` when `bytes` is not a `Uint8Array`.
 */
export function parseCertTable(bytes: Uint8Array): CertTableEntry[] {
  const input = requireUint8Array(bytes, 'ERR_SNP_INPUT_TYPE', 'an SNP certificate table')
  const reader = new ByteReader(input, { name: 'SNP certificate table' })
  const entries: RawEntry[] = []
  for (let at = 0; ; at += ENTRY_SIZE) {
    if (at + ENTRY_SIZE > reader.length) {
      throw tableError(
        'ERR_SNP_CERT_TABLE_UNTERMINATED',
        `no all-zero terminating entry within ${reader.length} bytes (${entries.length} entries read)`,
        { length: reader.length, entries: entries.length },
        'the table was cut off, or the bytes are not a certificate table',
      )
    }
    const guid = guidToString(reader.bytesAt(at, 16, `entry ${entries.length} GUID`))
    const offset = reader.u32leAt(at + 16, `entry ${entries.length} offset`)
    const length = reader.u32leAt(at + 20, `entry ${entries.length} length`)
    if (guid === NIL_GUID) {
      if (offset !== 0 || length !== 0) {
        throw tableError(
          'ERR_SNP_CERT_TABLE_TERMINATOR',
          `the entry at ${at} has the zero GUID but offset ${offset} and length ${length}; a terminator is all zero`,
          { entry: entries.length, offset, length },
        )
      }
      break
    }
    entries.push({ index: entries.length, guid, offset, length })
  }

  const headerSize = (entries.length + 1) * ENTRY_SIZE
  const seen = new Set<string>()
  for (const e of entries) {
    const details = {
      entry: e.index,
      guid: e.guid,
      offset: e.offset,
      length: e.length,
      tableLength: reader.length,
    }
    if (e.length === 0) {
      throw tableError(
        'ERR_SNP_CERT_TABLE_ENTRY_EMPTY',
        `entry ${e.index} (${e.guid}) has length 0`,
        details,
      )
    }
    if (e.offset < headerSize) {
      throw tableError(
        'ERR_SNP_CERT_TABLE_ENTRY_OFFSET',
        `entry ${e.index} (${e.guid}) starts at offset ${e.offset}, inside the ${headerSize}-byte header`,
        details,
      )
    }
    if (e.offset + e.length > reader.length) {
      throw tableError(
        'ERR_SNP_CERT_TABLE_ENTRY_RANGE',
        `entry ${e.index} (${e.guid}) at offset ${e.offset} with length ${e.length} runs past the end of the ${reader.length}-byte table`,
        details,
        'the table was cut off in transfer',
      )
    }
    if (seen.has(e.guid)) {
      throw tableError(
        'ERR_SNP_CERT_TABLE_DUPLICATE_GUID',
        `entry ${e.index} repeats GUID ${e.guid}`,
        details,
      )
    }
    seen.add(e.guid)
  }
  const byOffset = [...entries].sort((a, b) => a.offset - b.offset)
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1]
    const current = byOffset[i]
    if (
      previous !== undefined &&
      current !== undefined &&
      current.offset < previous.offset + previous.length
    ) {
      throw tableError(
        'ERR_SNP_CERT_TABLE_ENTRY_OVERLAP',
        `entries ${previous.index} and ${current.index} overlap (offsets ${previous.offset}+${previous.length} and ${current.offset})`,
        {
          entry: current.index,
          other: previous.index,
          offset: current.offset,
          otherOffset: previous.offset,
          otherLength: previous.length,
        },
      )
    }
  }
  return entries.map((e) => ({
    kind: certKindOfGuid(e.guid),
    guid: e.guid,
    data: reader.bytesAt(e.offset, e.length, `entry ${e.index} payload`).slice(),
  }))
}

/**
 * Parse an extended report: the 0x4A0-byte report followed by its certificate table (layouts in
 * `SnpReport` and {@link parseCertTable}). A report without a table is not an extended report: use
 * `parseSnpReport` for it.
 *
 * @example
 * ```ts
 * const { report, certificates } = parseExtendedReport(blob)
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_SNP_REPORT_TRUNCATED` when shorter than the report, any
 *   error of `parseSnpReport` for the first 0x4A0 bytes, and any error of {@link parseCertTable}
 *   for the rest.
 * @throws {@link UsageError} `ERR_SNP_INPUT_TYPE` when `bytes` is not a `Uint8Array`.
 */
export function parseExtendedReport(bytes: Uint8Array): ExtendedReport {
  const input = requireUint8Array(bytes, 'ERR_SNP_INPUT_TYPE', 'an SNP extended report')
  if (input.length < SNP_REPORT_SIZE) {
    throw new MalformedInputError(
      'ERR_SNP_REPORT_TRUNCATED',
      `SNP extended report is truncated: ${input.length} bytes, less than the ${SNP_REPORT_SIZE}-byte report`,
      { details: { length: input.length, expected: SNP_REPORT_SIZE } },
    )
  }
  // Each parser copies its own part of the input before reading it.
  const report = parseSnpReport(input.subarray(0, SNP_REPORT_SIZE))
  const certificates = parseCertTable(input.subarray(SNP_REPORT_SIZE))
  return { report, certificates }
}

function entryError(index: number, message: string): UsageError {
  return new UsageError(
    'ERR_SNP_CERT_TABLE_ENTRY_INVALID',
    `certificate table entry ${index}: ${message}`,
    {
      details: { entry: index },
    },
  )
}

/**
 * Write a certificate table: the entries, the all-zero terminator, then the payloads in entry
 * order, back to back. `parseCertTable(buildCertTable(entries))` gives the entries back.
 *
 * @example
 * ```ts
 * const table = buildCertTable([{ kind: 'vcek', data: vcekDer }, { kind: 'ask', data: askDer }])
 * ```
 *
 * @throws {@link UsageError} `ERR_SNP_CERT_TABLE_ENTRY_INVALID` when an entry has no payload, an
 *   `'other'` entry lacks a GUID or uses the zero GUID or a known one, a GUID is malformed or does
 *   not match its kind, a GUID repeats, or the table would exceed 4 GiB.
 */
export function buildCertTable(entries: readonly CertTableEntryInput[]): Uint8Array {
  const resolved: { readonly guid: string; readonly data: Uint8Array }[] = []
  entries.forEach((entry, index) => {
    const data: unknown = entry.data
    if (!(data instanceof Uint8Array) || data.length === 0) {
      throw entryError(index, 'data must be a non-empty Uint8Array')
    }
    let guid: string
    if (entry.kind === 'other') {
      const given = entry.guid === undefined ? undefined : normalizeGuid(entry.guid)
      if (given === undefined) throw entryError(index, "kind 'other' needs a GUID in RFC 4122 form")
      if (given === NIL_GUID) throw entryError(index, 'the zero GUID marks the end of the table')
      if (KIND_BY_GUID.has(given))
        throw entryError(index, `GUID ${given} is the ${certKindOfGuid(given)} GUID; use that kind`)
      guid = given
    } else {
      const expected = GUID_BY_KIND.get(entry.kind)
      if (expected === undefined) throw entryError(index, 'unknown kind')
      if (entry.guid !== undefined && normalizeGuid(entry.guid) !== expected) {
        throw entryError(index, `GUID does not match kind ${entry.kind} (${expected})`)
      }
      guid = expected
    }
    if (resolved.some((r) => r.guid === guid)) throw entryError(index, `GUID ${guid} appears twice`)
    resolved.push({ guid, data })
  })
  const headerSize = (resolved.length + 1) * ENTRY_SIZE
  const total = resolved.reduce((sum, e) => sum + e.data.length, headerSize)
  if (total > U32_MAX) {
    throw new UsageError(
      'ERR_SNP_CERT_TABLE_ENTRY_INVALID',
      `certificate table would be ${total} bytes; offsets are 32-bit`,
      { details: { length: total } },
    )
  }
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  let offset = headerSize
  resolved.forEach((entry, index) => {
    const at = index * ENTRY_SIZE
    out.set(guidToBytes(entry.guid), at)
    view.setUint32(at + 16, offset, true)
    view.setUint32(at + 20, entry.data.length, true)
    out.set(entry.data, offset)
    offset += entry.data.length
  })
  return out
}
