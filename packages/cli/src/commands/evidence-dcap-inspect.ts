/**
 * `initguard evidence inspect` for TDX and SGX quotes.
 *
 * @module
 */
import { bytesToHex } from '@initguard/core'
import { parsePckCertificate, quoteBodyClaims, type DcapEvidence } from '@initguard/tdx'
import type { Report } from '../output.ts'
import { setFlags } from './evidence-input.ts'

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
      ['MRENCLAVE', bytesToHex(body.mrEnclave)],
      ['MRSIGNER', bytesToHex(body.mrSigner)],
      ['CONFIGID', bytesToHex(body.configId)],
      ['ISVPRODID / SVN', `${body.isvProdId} / ${body.isvSvn} (CONFIGSVN ${body.configSvn})`],
      ['attributes', setFlags(body.attributes).join(' ') || '-'],
      ['REPORTDATA', bytesToHex(body.reportData)],
    )
  } else {
    rows.push(
      ['TEE_TCB_SVN', bytesToHex(body.teeTcbSvn)],
      ['MRSEAM', bytesToHex(body.mrSeam)],
      ['MRTD', bytesToHex(body.mrTd)],
      ['MRCONFIGID', bytesToHex(body.mrConfigId)],
      ['MROWNER', bytesToHex(body.mrOwner)],
      ['MROWNERCONFIG', bytesToHex(body.mrOwnerConfig)],
      ...body.rtmrs.map((r, i): [string, string] => [`RTMR${i}`, bytesToHex(r)]),
      [
        'TD attributes',
        `0x${body.tdAttributes.raw.toString(16).padStart(16, '0')}  ${setFlags(body.tdAttributes).join(' ') || '-'}`,
      ],
      ['XFAM', `0x${body.xfam.raw.toString(16).padStart(16, '0')}`],
      ['REPORTDATA', bytesToHex(body.reportData)],
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
