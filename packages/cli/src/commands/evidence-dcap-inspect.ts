/**
 * `initguard evidence inspect` for TDX and SGX quotes.
 *
 * @module
 */
import { bytesToHex } from '@initguard/core'
import {
  SGX_REPORT_LAYOUT,
  TD_REPORT_BODY_LAYOUT,
  parsePckCertificate,
  quoteBodyClaims,
  type DcapEvidence,
  type StructLayout,
} from '@initguard/tdx'
import type { Report } from '../output.ts'
import { setFlags } from './evidence-input.ts'

/** The TD body's byte fields shown in hex, in layout order (the attributes are shown decoded). */
const TD_HEX_ROWS = [
  'teeTcbSvn',
  'mrSeam',
  'mrTd',
  'mrConfigId',
  'mrOwner',
  'mrOwnerConfig',
  'rtmrs',
] as const

/**
 * Rows of byte fields under their names in the structure's layout table (`RTMR0`… for a run of
 * registers), each value in hex.
 */
function hexRows<K extends string>(
  layout: StructLayout<K>,
  values: Readonly<Record<K, Uint8Array | readonly Uint8Array[]>>,
  keys: readonly K[],
): [string, string][] {
  return keys.flatMap((key): [string, string][] => {
    const { name } = layout[key]
    const value = values[key]
    return value instanceof Uint8Array
      ? [[name, bytesToHex(value)]]
      : value.map((register, i): [string, string] => [`${name}${i}`, bytesToHex(register)])
  })
}

/** Every field of a quote, as a table and as JSON. */
export function inspectDcap(evidence: DcapEvidence): Report {
  const { quote } = evidence
  const h = quote.header
  const body = quote.body
  const certification = quote.signatureData.pckCertification
  const pckDer =
    certification.kind === 'pck-cert-chain' ? certification.certificates[0]?.der : undefined
  const pck = pckDer === undefined ? undefined : parsePckCertificate(pckDer)
  const rows: [string, string][] = [
    ['format', evidence.format],
    [
      'quote version',
      `${h.version} (${h.tee.toUpperCase()}${quote.bodyDescriptor === undefined ? '' : `, body type ${quote.bodyDescriptor.type}`})`,
    ],
    ['QE / PCE SVN', `${h.qeSvn} / ${h.pceSvn}`],
    ['QE vendor', bytesToHex(h.qeVendorId)],
  ]
  if (body.kind === 'sgx') {
    rows.push(
      ...hexRows(SGX_REPORT_LAYOUT, body, ['mrEnclave', 'mrSigner', 'configId']),
      ['ISVPRODID / SVN', `${body.isvProdId} / ${body.isvSvn} (CONFIGSVN ${body.configSvn})`],
      ['attributes', setFlags(body.attributes).join(' ') || '-'],
      ...hexRows(SGX_REPORT_LAYOUT, body, ['reportData']),
    )
  } else {
    rows.push(
      ...hexRows(TD_REPORT_BODY_LAYOUT, body, TD_HEX_ROWS),
      [
        'TD attributes',
        `0x${body.tdAttributes.raw.toString(16).padStart(16, '0')}  ${setFlags(body.tdAttributes).join(' ') || '-'}`,
      ],
      ['XFAM', `0x${body.xfam.raw.toString(16).padStart(16, '0')}`],
      ...hexRows(TD_REPORT_BODY_LAYOUT, body, ['reportData']),
    )
  }
  rows.push(
    [
      'certification',
      certification.kind === 'pck-cert-chain'
        ? `PCK chain (${certification.certificates.length} certificates)`
        : `type ${certification.type}: PCK not embedded`,
    ],
    ...(pck === undefined
      ? []
      : ([
          ['FMSPC', bytesToHex(pck.sgx.fmspc)],
          ['PCK CA', pck.issuerCa],
        ] as [string, string][])),
    ['trailing bytes', String(quote.trailingBytes)],
  )
  return {
    // The claims under the names `evidence verify` uses, then what only inspection shows.
    json: {
      tee: h.tee,
      format: evidence.format,
      verified: false,
      claims: quoteBodyClaims(quote),
      quote_version: h.version,
      body_type: quote.bodyDescriptor?.type ?? null,
      qe_svn: h.qeSvn,
      pce_svn: h.pceSvn,
      qe_vendor_id: bytesToHex(h.qeVendorId),
      ...(body.kind === 'sgx'
        ? { attribute_flags: setFlags(body.attributes) }
        : {
            td_attribute_flags: setFlags(body.tdAttributes),
            xfam: body.xfam.raw.toString(16).padStart(16, '0'),
          }),
      certification:
        certification.kind === 'pck-cert-chain'
          ? { kind: certification.kind, certificates: certification.certificates.length }
          : { kind: certification.kind, type: certification.type },
      fmspc: pck === undefined ? null : bytesToHex(pck.sgx.fmspc),
      pce_id: pck === undefined ? null : bytesToHex(pck.sgx.pceId),
      pck_ca: pck?.issuerCa ?? null,
      trailing_bytes: quote.trailingBytes,
    },
    text: rows.map(([k, v]) => `${k.padEnd(16)} ${v}`).join('\n'),
  }
}
