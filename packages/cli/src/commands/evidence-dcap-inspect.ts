/**
 * `initguard evidence inspect` for TDX and SGX quotes.
 *
 * @module
 */
import { bytesToHex } from '@initguard/core'
import { parsePckCertificate, type DcapEvidence } from '@initguard/tdx'
import type { Report } from '../output.ts'
import { jsonView } from './evidence-input.ts'

function flags(named: object): string {
  return (
    Object.entries(named)
      .filter(([, on]) => on === true)
      .map(([name]) => name)
      .join(' ') || '-'
  )
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
      ['MRENCLAVE', bytesToHex(body.mrEnclave)],
      ['MRSIGNER', bytesToHex(body.mrSigner)],
      ['CONFIGID', bytesToHex(body.configId)],
      ['ISVPRODID / SVN', `${body.isvProdId} / ${body.isvSvn} (CONFIGSVN ${body.configSvn})`],
      ['attributes', flags(body.attributes)],
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
        `0x${body.tdAttributes.raw.toString(16).padStart(16, '0')}  ${flags(body.tdAttributes)}`,
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
    json: {
      tee: h.tee,
      format: evidence.format,
      header: jsonView(h, ['raw']),
      body: jsonView(body, ['raw']),
      pck:
        pck === undefined
          ? null
          : {
              fmspc: bytesToHex(pck.sgx.fmspc),
              ca: pck.issuerCa,
              pce_id: bytesToHex(pck.sgx.pceId),
            },
      trailing_bytes: quote.trailingBytes,
    },
    text: rows.map(([k, v]) => `${k.padEnd(16)} ${v}`).join('\n'),
  }
}
