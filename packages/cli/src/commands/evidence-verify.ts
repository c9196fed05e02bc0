/**
 * `initguard evidence verify` for AMD SEV-SNP evidence: verify end to end, then appraise.
 *
 * @module
 */
import { AmdKdsClient, readInput } from '@initguard/adapters'
import { UnavailableError, UsageError, hexToBytes, isInitguardError } from '@initguard/core'
import { parseInitdata } from '@initguard/initdata'
import {
  AMD_PRODUCTION_ANCHORS,
  decodeTcbVersion,
  parsePemBundle,
  verifySnpEvidence,
  type AmdRootSet,
  type SnpAppraisalPolicy,
  type SnpProduct,
  type SnpReport,
  type SnpTrustAnchors,
  type TcbComponents,
} from '@initguard/snp'
import { JSON_OPTION, listOption, stringOption, type Command, type ParsedArgs } from '../command.ts'
import type { CliIo } from '../cli-io.ts'
import { emit } from '../output.ts'

import { DCAP_OPTIONS, verifyDcapFromCli } from './evidence-dcap.ts'
import { cacheDirectory, guessProduct, loadEvidence } from './evidence-input.ts'

function hexOption(args: ParsedArgs, name: string, length: number): Uint8Array | undefined {
  const text = stringOption(args, name)
  if (text === undefined) return undefined
  const bytes = hexToBytes(text.trim(), { field: `--${name}` })
  if (bytes.length !== length) {
    throw new UsageError(
      'ERR_USAGE',
      `--${name} must be ${length} bytes (${length * 2} hex digits); got ${bytes.length}`,
    )
  }
  return bytes
}

function tcbOption(text: string | undefined): TcbComponents | undefined {
  if (text === undefined) return undefined
  const parts = new Map<string, number>()
  for (const item of text.split(',')) {
    const match = /^(fmc|bl|tee|snp|ucode)=(\d{1,3})$/.exec(item.trim())
    if (match === null || Number(match[2]) > 255) {
      throw new UsageError(
        'ERR_USAGE',
        `--min-tcb ${JSON.stringify(text)}: expected bl=N,tee=N,snp=N,ucode=N[,fmc=N]`,
      )
    }
    parts.set(match[1] ?? '', Number(match[2]))
  }
  const get = (k: string): number => parts.get(k) ?? 0
  return {
    ...(parts.has('fmc') ? { fmc: get('fmc') } : {}),
    bootloader: get('bl'),
    tee: get('tee'),
    snp: get('snp'),
    microcode: get('ucode'),
  }
}

async function readCertificates(
  paths: readonly string[],
  io: CliIo,
): Promise<(Uint8Array | string)[]> {
  const out: (Uint8Array | string)[] = []
  for (const path of paths) {
    const bytes = await readInput(path, {
      what: 'certificate file',
      stdin: io.stdin,
      maxSize: 1024 * 1024,
    })
    const text = Buffer.from(bytes).toString('latin1')
    if (text.includes('-----BEGIN CERTIFICATE-----')) {
      for (const block of text.match(
        /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
      ) ?? [])
        out.push(block)
    } else {
      out.push(bytes)
    }
  }
  return out
}

async function trustAnchors(paths: readonly string[], io: CliIo): Promise<SnpTrustAnchors> {
  if (paths.length === 0) return AMD_PRODUCTION_ANCHORS
  const roots: Partial<Record<SnpProduct, { ark?: string; ask?: string; asvk?: string }>> = {}
  for (const path of paths) {
    const pem = Buffer.from(
      await readInput(path, { what: 'trusted root bundle', stdin: io.stdin }),
    ).toString('utf8')
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
    parsePemBundle(pem, path).forEach((certificate, i) => {
      const match = /^(ARK|SEV|SEV-VLEK)-(Milan|Genoa|Turin)$/.exec(certificate.commonName)
      if (match === null) {
        throw new UsageError(
          'ERR_USAGE',
          `${path}: certificate #${i + 1} (${certificate.commonName}) is not an ARK, ASK or ASVK`,
        )
      }
      const product = match[2] as SnpProduct
      const slot = match[1] === 'ARK' ? 'ark' : match[1] === 'SEV' ? 'ask' : 'asvk'
      roots[product] = { ...roots[product], [slot]: `${blocks[i] ?? ''}\n` }
    })
  }
  const sets: Partial<Record<SnpProduct, AmdRootSet>> = {}
  for (const [product, set] of Object.entries(roots) as [
    SnpProduct,
    { ark?: string; ask?: string; asvk?: string },
  ][]) {
    if (set.ark === undefined)
      throw new UsageError('ERR_USAGE', `--trust-root: no ARK-${product} among the certificates`)
    sets[product] = {
      product,
      ark: set.ark,
      ask: set.ask ?? '',
      asvk: set.asvk ?? '',
      fingerprints: { ark: '', ask: '', asvk: '' },
    }
  }
  return { roots: sets }
}

export const verifySnpCommand: Command = {
  name: 'verify',
  summary:
    'Verify SEV-SNP, TDX or SGX evidence end to end (vendor chain, signatures, collateral) and appraise it.',
  usage: 'FILE',
  description: [
    'The form is detected: an SEV-SNP report, extended report or Trustee JSON, or a TDX or SGX quote',
    'or Trustee JSON. Exit 0 when genuine and as expected; 4 when a signature, chain or collateral',
    'is invalid; 5 when an expectation is not met (debug TDs, enclaves and guests, migration agents',
    'and TCB statuses other than UpToDate are refused unless allowed; --json lists every failure and',
    'the claims); 6 when the VCEK or the collateral is needed and cannot be had. SEV-SNP: a missing',
    'VCEK is fetched from AMD KDS (cached) unless --offline. TDX/SGX: collateral comes from',
    "--collateral (the collateral JSON, or Intel PCS's documents as files or a directory), else from",
    '--pccs or Intel PCS (cached) unless --offline.',
    '',
    'Examples:',
    '  initguard evidence verify report.bin --expect-initdata initdata.toml --expect-measurement 5fee…',
    '  initguard evidence verify quote.dat --collateral pcs-documents/ --expect-initdata initdata.toml',
  ].join('\n'),
  options: {
    certs: {
      type: 'string',
      multiple: true,
      valueName: 'FILE',
      help: 'VCEK/VLEK/ASK/ARK certificates (DER or PEM bundles)',
    },
    at: {
      type: 'string',
      valueName: 'TIME',
      help: 'check certificate validity at this ISO 8601 time instead of now',
    },
    offline: {
      type: 'boolean',
      help: 'never use the network: only --certs, the evidence, the cache and --kds-store',
    },
    'kds-url': {
      type: 'string',
      valueName: 'URL',
      help: 'AMD KDS base URL (default https://kdsintf.amd.com)',
    },
    'kds-store': {
      type: 'string',
      valueName: 'DIR',
      help: 'offline VCEK store: DIR/{product}/{hwid}/{tcb}.der',
    },
    'cache-dir': {
      type: 'string',
      valueName: 'DIR',
      help: 'download cache (default $XDG_CACHE_HOME/initguard)',
    },
    crl: {
      type: 'string',
      valueName: 'FILE',
      help: "AMD's CRL for the product (DER): the chain must not be on it",
    },
    'fetch-crl': {
      type: 'boolean',
      help: "fetch AMD's CRL from KDS (cached) and check the chain against it",
    },
    'trust-root': {
      type: 'string',
      multiple: true,
      valueName: 'FILE',
      help: "trust these ARK/ASK/ASVK (PEM) instead of AMD's: for test PKIs only",
    },
    'expect-host-data': {
      type: 'string',
      valueName: 'HEX',
      help: 'HOST_DATA must be exactly this (32 bytes)',
    },
    'expect-initdata': {
      type: 'string',
      valueName: 'FILE',
      help: 'HOST_DATA must bind this initdata document',
    },
    'expect-measurement': {
      type: 'string',
      multiple: true,
      valueName: 'HEX',
      help: 'MEASUREMENT must be one of these',
    },
    'expect-report-data': {
      type: 'string',
      valueName: 'HEX',
      help: 'REPORT_DATA must be exactly this (64 bytes)',
    },
    'expect-vmpl': { type: 'string', valueName: 'N', help: 'VMPL must be N' },
    'min-tcb': {
      type: 'string',
      valueName: 'bl=N,tee=N,snp=N,ucode=N[,fmc=N]',
      help: 'REPORTED_TCB must be at least this',
    },
    'min-guest-svn': { type: 'string', valueName: 'N', help: 'GUEST_SVN must be at least N' },
    'allow-debug': {
      type: 'boolean',
      help: 'accept a guest whose policy allows debugging (never in production)',
    },
    'allow-migration-agent': {
      type: 'boolean',
      help: 'accept a guest whose policy allows a migration agent',
    },
    ...DCAP_OPTIONS,
    json: JSON_OPTION,
  },
  async run(args, io) {
    const loaded = await loadEvidence(args, io, 'evidence verify')
    const at = stringOption(args, 'at')
    const now = at === undefined ? new Date() : new Date(at)
    if (Number.isNaN(now.getTime()))
      throw new UsageError('ERR_USAGE', `--at ${JSON.stringify(at)} is not an ISO 8601 time`)
    if (loaded.family === 'dcap') {
      emit(
        io,
        args.values['json'] === true,
        await verifyDcapFromCli(loaded.evidence, now, args, io),
      )
      return 0
    }
    const evidence = loaded.evidence
    for (const dcapOnly of Object.keys(DCAP_OPTIONS)) {
      if (args.values[dcapOnly] !== undefined && args.values[dcapOnly] !== false) {
        throw new UsageError(
          'ERR_USAGE',
          `--${dcapOnly} applies to TDX/SGX quotes; this is SEV-SNP evidence`,
        )
      }
    }
    if (
      stringOption(args, 'expect-host-data') !== undefined &&
      stringOption(args, 'expect-initdata') !== undefined
    ) {
      throw new UsageError('ERR_USAGE', 'give --expect-host-data or --expect-initdata, not both')
    }
    const initdataPath = stringOption(args, 'expect-initdata')
    const vmpl = stringOption(args, 'expect-vmpl')
    const svn = stringOption(args, 'min-guest-svn')
    const minimumTcb = tcbOption(stringOption(args, 'min-tcb'))
    const hostData = hexOption(args, 'expect-host-data', 32)
    const reportData = hexOption(args, 'expect-report-data', 64)
    const policy: SnpAppraisalPolicy = {
      ...(hostData === undefined ? {} : { hostData }),
      ...(reportData === undefined ? {} : { reportData }),
      ...(initdataPath === undefined
        ? {}
        : {
            initdata: parseInitdata(
              await readInput(initdataPath, { what: 'initdata document', stdin: io.stdin }),
            ),
          }),
      ...(listOption(args, 'expect-measurement').length === 0
        ? {}
        : {
            measurements: listOption(args, 'expect-measurement').map((m) =>
              hexToBytes(m, { field: '--expect-measurement' }),
            ),
          }),
      ...(minimumTcb === undefined ? {} : { minimumTcb }),
      ...(vmpl === undefined ? {} : { vmpl: Number(vmpl) }),
      ...(svn === undefined ? {} : { minimumGuestSvn: Number(svn) }),
      allowDebug: args.values['allow-debug'] === true,
      allowMigrationAgent: args.values['allow-migration-agent'] === true,
    }
    const anchors = await trustAnchors(listOption(args, 'trust-root'), io)
    const certificates = await readCertificates(listOption(args, 'certs'), io)
    const crl = await loadCrl(evidence.report, args, io)
    const options = { now, anchors, certificates, policy, ...(crl === undefined ? {} : { crl }) }
    let result
    try {
      result = verifySnpEvidence(evidence, options)
    } catch (error) {
      if (
        !isInitguardError(error) ||
        error.code !== 'ERR_SNP_ENDORSEMENT_MISSING' ||
        evidence.report.signerInfo.signingKey !== 'vcek'
      )
        throw error
      const vcek = await fetchVcek(evidence.report, args)
      result = verifySnpEvidence(evidence, { ...options, certificates: [...certificates, vcek] })
    }
    const c = result.claims
    emit(io, args.values['json'] === true, {
      json: {
        ok: true,
        tee: 'snp',
        product: result.product,
        signing_key: result.signingKey,
        claims: c,
        chain: result.chain,
      },
      text: [
        `ok: genuine ${result.product} SEV-SNP report, signed by the ${result.signingKey.toUpperCase()}, chain to the trusted ARK-${result.product} valid until ${result.chain.validUntil}`,
        `MEASUREMENT  ${c.measurement}`,
        `HOST_DATA    ${c.host_data}`,
        `REPORT_DATA  ${c.report_data}`,
        `VMPL ${c.vmpl}, reported TCB BL ${c.reported_tcb.bootloader} TEE ${c.reported_tcb.tee} SNP ${c.reported_tcb.snp} UCODE ${c.reported_tcb.microcode}${c.reported_tcb.fmc === undefined ? '' : ` FMC ${c.reported_tcb.fmc}`}, debug ${c.policy.debug_allowed ? 'ALLOWED' : 'off'}`,
      ].join('\n'),
      warnings: result.warnings,
    })
    return 0
  },
}

function kdsClient(args: ParsedArgs): AmdKdsClient {
  const baseUrl = stringOption(args, 'kds-url')
  const offlineStore = stringOption(args, 'kds-store')
  return new AmdKdsClient({
    cacheDir: cacheDirectory(args),
    offline: args.values['offline'] === true,
    ...(baseUrl === undefined ? {} : { baseUrl }),
    ...(offlineStore === undefined ? {} : { offlineStore }),
  })
}

function productForDownload(report: SnpReport, what: string, hint: string): SnpProduct {
  const product = guessProduct(report)
  if (product === undefined) {
    throw new UnavailableError(
      'ERR_SNP_COLLATERAL_MISSING',
      `a version 2 report does not say its product line, so its ${what} cannot be fetched`,
      { hint },
    )
  }
  return product
}

async function fetchVcek(report: SnpReport, args: ParsedArgs): Promise<Uint8Array> {
  const product = productForDownload(report, 'VCEK', 'give the VCEK with --certs')
  return kdsClient(args).vcek(product, report.chipId, decodeTcbVersion(report.reportedTcb, product))
}

async function loadCrl(
  report: SnpReport,
  args: ParsedArgs,
  io: CliIo,
): Promise<Uint8Array | undefined> {
  const path = stringOption(args, 'crl')
  if (path !== undefined)
    return readInput(path, { what: 'CRL', stdin: io.stdin, maxSize: 16 * 1024 * 1024 })
  if (args.values['fetch-crl'] !== true) return undefined
  const product = productForDownload(report, 'CRL', 'give the CRL with --crl')
  return kdsClient(args).crl(product, report.signerInfo.signingKey === 'vlek' ? 'vlek' : 'vcek')
}
