/**
 * The Intel TDX and SGX (DCAP) side of `initguard evidence inspect | verify`.
 *
 * @module
 */
import { IntelPcsClient, readInput } from '@initguard/adapters'
import { UsageError, bytesToHex, hexToBytes } from '@initguard/core'
import { parseInitdata } from '@initguard/initdata'
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
import { listOption, stringOption, type OptionSpec, type ParsedArgs } from '../command.ts'
import type { CliIo } from '../cli-io.ts'
import type { Report } from '../output.ts'
import { loadCollateralFiles } from './dcap-collateral-files.ts'
import { cacheDirectory } from './evidence-input.ts'

/** Options only DCAP verification reads. */
export const DCAP_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  collateral: {
    type: 'string',
    multiple: true,
    valueName: 'FILE|DIR',
    help: "TDX/SGX: collateral JSON, or Intel PCS's documents (TCB info, QE identity, CRLs, issuer chains) as files or a directory",
  },
  pccs: {
    type: 'string',
    valueName: 'URL',
    help: 'TDX/SGX: fetch collateral from this PCCS or PCS (default Intel PCS), cached',
  },
  'intel-root': {
    type: 'string',
    valueName: 'FILE',
    help: "TDX/SGX: trust this root instead of Intel's (test PKIs only)",
  },
  'expect-mrconfigid': {
    type: 'string',
    valueName: 'HEX',
    help: 'TDX: MRCONFIGID must be exactly this (48 bytes)',
  },
  'expect-configid': {
    type: 'string',
    valueName: 'HEX',
    help: 'SGX: CONFIGID must be exactly this (64 bytes)',
  },
  'expect-mrtd': {
    type: 'string',
    multiple: true,
    valueName: 'HEX',
    help: 'TDX: MRTD must be one of these',
  },
  'expect-rtmr': {
    type: 'string',
    multiple: true,
    valueName: 'N=HEX',
    help: 'TDX: RTMR N must be exactly HEX',
  },
  'expect-mrseam': {
    type: 'string',
    multiple: true,
    valueName: 'HEX',
    help: 'TDX: MRSEAM must be one of these',
  },
  'expect-mrenclave': {
    type: 'string',
    multiple: true,
    valueName: 'HEX',
    help: 'SGX: MRENCLAVE must be one of these',
  },
  'expect-mrsigner': {
    type: 'string',
    multiple: true,
    valueName: 'HEX',
    help: 'SGX: MRSIGNER must be one of these',
  },
  'min-isv-svn': { type: 'string', valueName: 'N', help: 'SGX: ISVSVN must be at least N' },
  'allow-sw-hardening': {
    type: 'boolean',
    help: 'TDX/SGX: also accept TCB status SWHardeningNeeded',
  },
  'allow-configuration-needed': {
    type: 'boolean',
    help: 'TDX/SGX: also accept TCB status ConfigurationNeeded',
  },
}

function hexOf(text: string, option: string, length?: number): Uint8Array {
  const bytes = hexToBytes(text.trim(), { field: `--${option}` })
  if (length !== undefined && bytes.length !== length) {
    throw new UsageError(
      'ERR_USAGE',
      `--${option} must be ${length} bytes (${length * 2} hex digits); got ${bytes.length}`,
    )
  }
  return bytes
}

async function policyOf(args: ParsedArgs, io: CliIo): Promise<QuoteAppraisalPolicy> {
  const initdataPath = stringOption(args, 'expect-initdata')
  const one = (name: string, length: number): Uint8Array | undefined => {
    const text = stringOption(args, name)
    return text === undefined ? undefined : hexOf(text, name, length)
  }
  const many = (name: string): Uint8Array[] | undefined => {
    const values = listOption(args, name)
    return values.length === 0 ? undefined : values.map((v) => hexOf(v, name))
  }
  const rtmrs: (Uint8Array | undefined)[] = []
  for (const entry of listOption(args, 'expect-rtmr')) {
    const match = /^([0-3])=([0-9a-fA-F]{96})$/.exec(entry)
    if (match === null)
      throw new UsageError(
        'ERR_USAGE',
        `--expect-rtmr ${JSON.stringify(entry)}: expected N=HEX with N 0–3 and 48 bytes of hex`,
      )
    rtmrs[Number(match[1])] = hexToBytes(match[2] ?? '')
  }
  const svn = stringOption(args, 'min-isv-svn')
  const fields: Record<string, unknown> = {
    initdata:
      initdataPath === undefined
        ? undefined
        : parseInitdata(
            await readInput(initdataPath, { what: 'initdata document', stdin: io.stdin }),
          ),
    mrConfigId: one('expect-mrconfigid', 48),
    configId: one('expect-configid', 64),
    reportData: one('expect-report-data', 64),
    mrTd: many('expect-mrtd'),
    mrSeam: many('expect-mrseam'),
    mrEnclave: many('expect-mrenclave'),
    mrSigner: many('expect-mrsigner'),
    rtmrs: rtmrs.length === 0 ? undefined : rtmrs,
    minimumIsvSvn: svn === undefined ? undefined : Number(svn),
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
): Promise<DcapCollateral> {
  const certification = evidence.quote.signatureData.pckCertification
  const pckDer =
    certification.kind === 'pck-cert-chain' ? certification.certificates[0]?.der : undefined
  const files = listOption(args, 'collateral')
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
  const pccs = stringOption(args, 'pccs')
  const client = new IntelPcsClient({
    cacheDir: cacheDirectory(args),
    offline: args.values['offline'] === true,
    ...(pccs === undefined ? {} : { baseUrl: pccs }),
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
  for (const snpOnly of [
    'expect-host-data',
    'expect-measurement',
    'expect-vmpl',
    'min-tcb',
    'min-guest-svn',
    'certs',
    'crl',
    'fetch-crl',
    'trust-root',
  ]) {
    if (args.values[snpOnly] !== undefined) {
      throw new UsageError(
        'ERR_USAGE',
        `--${snpOnly} applies to SEV-SNP evidence; this is a ${evidence.quote.body.kind === 'sgx' ? 'SGX' : 'TDX'} quote`,
      )
    }
  }
  const root = stringOption(args, 'intel-root')
  const result = verifyDcapQuote(evidence.quote, {
    now,
    collateral: await collateralFor(evidence, args, io),
    policy: await policyOf(args, io),
    ...(root === undefined
      ? {}
      : {
          root: Buffer.from(
            await readInput(root, { what: 'trusted root', stdin: io.stdin }),
          ).toString('utf8'),
        }),
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
      claims,
    },
    text: [
      `ok: genuine ${tee} quote, PCK chain to the trusted Intel root, collateral current; TCB status ${result.tcb.status}${result.tcb.advisoryIds.length > 0 ? ` (${result.tcb.advisoryIds.join(', ')})` : ''}`,
      ...measurementLines(evidence.quote.body),
      `${binding.padEnd(11)} ${claims.init_data}`,
      `REPORTDATA  ${claims.report_data}`,
      `FMSPC ${String(claims['fmspc'])}, PCK CA ${String(claims['pck_ca'])}`,
    ].join('\n'),
    warnings: result.warnings,
  }
}
