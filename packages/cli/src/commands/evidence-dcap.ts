/**
 * The Intel TDX and SGX (DCAP) side of `initguard evidence inspect | verify`.
 *
 * @module
 */
import { IntelPcsClient } from '@initguard/collateral'
import { readInput } from '@initguard/files'
import { UsageError, bytesToHex } from '@initguard/core'
import {
  PCK_PLATFORM_CA_CN,
  PCK_PROCESSOR_CA_CN,
  collateralFromPcs,
  parsePckCertificate,
  verifyDcapQuote,
  type DcapCollateral,
  type DcapEvidence,
  type DcapQuoteBody,
  type QuoteAppraisalPolicy,
} from '@initguard/tdx'
import {
  parsedList,
  parsedOption,
  type EvidenceKind,
  type OptionSpec,
  type ParsedArgs,
} from '../command.ts'
import type { CliIo } from '../cli-io.ts'
import {
  PATH_VALUE,
  RTMR_VALUE,
  URL_VALUE,
  hexValue,
  integerValue,
  type OptionValue,
} from '../option-values.ts'
import type { Report } from '../output.ts'
import { anchorPhrase } from './evidence-anchor.ts'
import { readDocumentFile } from './initdata-input.ts'
import { loadCollateralFiles } from './dcap-collateral-files.ts'
import { cacheDirectory } from './evidence-input.ts'
import { refuseWrongOptionFile } from './option-file.ts'

const DCAP: readonly EvidenceKind[] = ['tdx', 'sgx']
const TDX: readonly EvidenceKind[] = ['tdx']
const SGX: readonly EvidenceKind[] = ['sgx']

const MRCONFIGID = hexValue(48, 'MRCONFIGID')
const CONFIGID = hexValue(64, 'CONFIGID')
const MRTD = hexValue(48, 'MRTD')
const MRSEAM = hexValue(48, 'MRSEAM')
const MRSERVICETD = hexValue(48, 'MRSERVICETD')
const MRENCLAVE = hexValue(32, 'MRENCLAVE')
const MRSIGNER = hexValue(32, 'MRSIGNER')
const ISV_SVN = integerValue(0, 0xffff, 'ISVSVN is a u16')
/** REPORT_DATA (SNP) and REPORTDATA (TDX, SGX) are both 64 bytes. */
export const REPORT_DATA: OptionValue<Uint8Array> = hexValue(64, 'REPORT_DATA')

/** Options only DCAP verification reads. */
export const DCAP_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  collateral: {
    type: 'string',
    value: PATH_VALUE,
    appliesTo: DCAP,
    multiple: true,
    valueName: 'FILE|DIR',
    help: "TDX/SGX: collateral JSON, or Intel PCS's documents (TCB info, QE identity, CRLs, issuer chains) as files or a directory",
  },
  pccs: {
    type: 'string',
    value: URL_VALUE,
    appliesTo: DCAP,
    valueName: 'URL',
    help: 'TDX/SGX: fetch collateral from this PCCS or PCS (default Intel PCS), cached; not with --offline',
  },
  'intel-root': {
    type: 'string',
    value: PATH_VALUE,
    appliesTo: DCAP,
    valueName: 'FILE',
    help: "TDX/SGX: trust this root instead of Intel's (test PKIs only)",
  },
  'expect-mrconfigid': {
    type: 'string',
    value: MRCONFIGID,
    appliesTo: TDX,
    valueName: 'HEX',
    help: 'TDX: MRCONFIGID must be exactly this (48 bytes)',
  },
  'expect-configid': {
    type: 'string',
    value: CONFIGID,
    appliesTo: SGX,
    valueName: 'HEX',
    help: 'SGX: CONFIGID must be exactly this (64 bytes)',
  },
  'expect-mrtd': {
    type: 'string',
    value: MRTD,
    appliesTo: TDX,
    multiple: true,
    valueName: 'HEX',
    help: 'TDX: MRTD must be one of these',
  },
  'expect-rtmr': {
    type: 'string',
    value: RTMR_VALUE,
    appliesTo: TDX,
    multiple: true,
    valueName: 'N=HEX',
    help: 'TDX: RTMR N must be exactly HEX',
  },
  'expect-mrseam': {
    type: 'string',
    value: MRSEAM,
    appliesTo: TDX,
    multiple: true,
    valueName: 'HEX',
    help: 'TDX: MRSEAM must be one of these',
  },
  'expect-mrservicetd': {
    type: 'string',
    value: MRSERVICETD,
    appliesTo: TDX,
    valueName: 'HEX',
    help: 'TDX: MRSERVICETD must be exactly this (48 bytes); without it, all zero (no service TD bound)',
  },
  'expect-mrenclave': {
    type: 'string',
    value: MRENCLAVE,
    appliesTo: SGX,
    multiple: true,
    valueName: 'HEX',
    help: 'SGX: MRENCLAVE must be one of these',
  },
  'expect-mrsigner': {
    type: 'string',
    value: MRSIGNER,
    appliesTo: SGX,
    multiple: true,
    valueName: 'HEX',
    help: 'SGX: MRSIGNER must be one of these',
  },
  'min-isv-svn': {
    type: 'string',
    value: ISV_SVN,
    appliesTo: SGX,
    valueName: 'N',
    help: 'SGX: ISVSVN must be at least N',
  },
  'allow-sw-hardening': {
    type: 'boolean',
    appliesTo: DCAP,
    help: 'TDX/SGX: also accept TCB status SWHardeningNeeded',
  },
  'allow-configuration-needed': {
    type: 'boolean',
    appliesTo: DCAP,
    help: 'TDX/SGX: also accept TCB status ConfigurationNeeded',
  },
}

async function policyOf(args: ParsedArgs, io: CliIo): Promise<QuoteAppraisalPolicy> {
  const initdataPath = parsedOption(args, 'expect-initdata', PATH_VALUE)
  const many = (name: string, kind: OptionValue<Uint8Array>): Uint8Array[] | undefined => {
    const values = parsedList(args, name, kind)
    return values.length === 0 ? undefined : values
  }
  const rtmrs: (Uint8Array | undefined)[] = []
  for (const { index, value } of parsedList(args, 'expect-rtmr', RTMR_VALUE)) {
    if (rtmrs[index] !== undefined)
      throw new UsageError('ERR_OPTION_VALUE', `--expect-rtmr gives RTMR${index} more than once`)
    rtmrs[index] = value
  }
  // Every option named, each checked against the policy's type: a misspelt key does not compile.
  const fields: {
    readonly [K in keyof QuoteAppraisalPolicy]-?: QuoteAppraisalPolicy[K] | undefined
  } = {
    initdata:
      initdataPath === undefined
        ? undefined
        : await readDocumentFile(initdataPath, io, { option: 'expect-initdata' }),
    mrConfigId: parsedOption(args, 'expect-mrconfigid', MRCONFIGID),
    configId: parsedOption(args, 'expect-configid', CONFIGID),
    reportData: parsedOption(args, 'expect-report-data', REPORT_DATA),
    mrTd: many('expect-mrtd', MRTD),
    mrSeam: many('expect-mrseam', MRSEAM),
    mrServiceTd: parsedOption(args, 'expect-mrservicetd', MRSERVICETD),
    mrEnclave: many('expect-mrenclave', MRENCLAVE),
    mrSigner: many('expect-mrsigner', MRSIGNER),
    rtmrs: rtmrs.length === 0 ? undefined : rtmrs,
    minimumIsvSvn: parsedOption(args, 'min-isv-svn', ISV_SVN),
    allowDebug: args.values['allow-debug'] === true,
    allowSwHardeningNeeded: args.values['allow-sw-hardening'] === true,
    allowConfigurationNeeded: args.values['allow-configuration-needed'] === true,
  }
  const policy: QuoteAppraisalPolicy = Object.fromEntries(
    Object.entries(fields).filter(([, v]) => v !== undefined),
  )
  return policy
}

async function collateralFor(
  evidence: DcapEvidence,
  args: ParsedArgs,
  io: CliIo,
  root: string | undefined,
): Promise<DcapCollateral> {
  const certification = evidence.quote.signatureData.pckCertification
  const pckDer =
    certification.kind === 'pck-cert-chain' ? certification.certificates[0]?.der : undefined
  const files = parsedList(args, 'collateral', PATH_VALUE)
  if (files.length > 0) {
    // Only to pick the PCK CRL when both CAs' are given; the verifier judges the certificate.
    let ca: string | undefined
    try {
      ca = pckDer === undefined ? undefined : parsePckCertificate(pckDer).issuerCa
    } catch {
      ca = undefined
    }
    return loadCollateralFiles(
      files,
      io,
      ca === 'processor' ? PCK_PROCESSOR_CA_CN : ca === 'platform' ? PCK_PLATFORM_CA_CN : undefined,
    )
  }
  if (pckDer === undefined) {
    throw new UsageError(
      'ERR_USAGE',
      'the quote does not carry its PCK certificate, so its collateral cannot be looked up',
      {
        hint: 'give the collateral with --collateral FILE',
      },
    )
  }
  const pck = parsePckCertificate(pckDer)
  const pccs = parsedOption(args, 'pccs', URL_VALUE)
  // The documents are checked against the root the quote is verified with before they are cached.
  const client = new IntelPcsClient({
    cacheDir: cacheDirectory(args),
    offline: args.values['offline'] === true,
    ...(pccs === undefined ? {} : { baseUrl: pccs }),
    ...(root === undefined ? {} : { root }),
  })
  const raw = await client.collateral({
    tee: evidence.quote.body.kind === 'sgx' ? 'sgx' : 'tdx',
    fmspc: bytesToHex(pck.sgx.fmspc),
    ca: pck.issuerCa === 'processor' ? 'processor' : 'platform',
  })
  return collateralFromPcs({
    tcbInfo: { body: raw.tcbInfoBody, issuerChain: raw.tcbInfoIssuerChain },
    qeIdentity: { body: raw.qeIdentityBody, issuerChain: raw.qeIdentityIssuerChain },
    pckCrl: { body: raw.pckCrl, issuerChain: raw.pckCrlIssuerChain },
    rootCaCrl: raw.rootCaCrl,
  })
}

/** The measurements a success shows, as SNP's shows MEASUREMENT: MRTD and RTMRs, or MRENCLAVE and MRSIGNER. */
function measurementLines(body: DcapQuoteBody): string[] {
  if (body.kind === 'sgx')
    return [`MRENCLAVE   ${bytesToHex(body.mrEnclave)}`, `MRSIGNER    ${bytesToHex(body.mrSigner)}`]
  return [
    `MRTD        ${bytesToHex(body.mrTd)}`,
    ...body.rtmrs.map((rtmr, i) => `RTMR${i}       ${bytesToHex(rtmr)}`),
  ]
}

/** Verify DCAP evidence as the command line asks; the report to print. */
export async function verifyDcapFromCli(
  evidence: DcapEvidence,
  now: Date,
  args: ParsedArgs,
  io: CliIo,
): Promise<Report> {
  const rootPath = parsedOption(args, 'intel-root', PATH_VALUE)
  let root: string | undefined
  if (rootPath !== undefined) {
    const bytes = await readInput(rootPath, { what: 'trusted root', stdin: io.stdin })
    refuseWrongOptionFile('--intel-root', rootPath, bytes)
    root = Buffer.from(bytes).toString('utf8')
  }
  const result = verifyDcapQuote(evidence.quote, {
    now,
    collateral: await collateralFor(evidence, args, io, root),
    policy: await policyOf(args, io),
    ...(root === undefined ? {} : { root }),
  })
  const claims = result.claims
  const tee = result.tee.toUpperCase()
  const binding = result.tee === 'sgx' ? 'CONFIGID' : 'MRCONFIGID'
  return {
    json: {
      ok: true,
      tee: result.tee,
      tcb_status: result.tcb.status,
      advisory_ids: result.tcb.advisoryIds,
      anchor: result.anchor,
      claims,
    },
    text: [
      `ok: genuine ${tee} quote, PCK chain to ${anchorPhrase(result.anchor, "Intel's SGX Root CA", '--intel-root')}, collateral current; TCB status ${result.tcb.status}${result.tcb.advisoryIds.length > 0 ? ` (${result.tcb.advisoryIds.join(', ')})` : ''}`,
      ...measurementLines(evidence.quote.body),
      `${binding.padEnd(11)} ${claims.init_data}`,
      `REPORTDATA  ${claims.report_data}`,
      `FMSPC ${String(claims['fmspc'])}, PCK CA ${String(claims['pck_ca'])}`,
    ].join('\n'),
    warnings: result.warnings,
  }
}
