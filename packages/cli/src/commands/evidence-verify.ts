/**
 * `initguard evidence verify` for AMD SEV-SNP evidence: verify end to end, then appraise.
 *
 * @module
 */
import { AmdKdsClient } from '@initguard/collateral'
import { readInput } from '@initguard/files'
import { MalformedInputError, UnavailableError, isInitguardError } from '@initguard/core'
import {
  AMD_PRODUCTION_ANCHORS,
  decodeTcbVersion,
  parsePemBundle,
  snpEndorsementToFetch,
  SnpVerifierCache,
  verifySnpEvidence,
  type AmdRootSet,
  type SnpEvidence,
  type SnpAppraisalPolicy,
  type SnpProduct,
  type SnpReport,
  type SnpTrustAnchors,
} from '@initguard/snp'
import {
  JSON_OPTION,
  parsedList,
  parsedOption,
  refuseInapplicableOptions,
  refuseTogether,
  refuseWithoutEffect,
  type Command,
  type EvidenceKind,
  type ParsedArgs,
} from '../command.ts'
import type { CliIo } from '../cli-io.ts'
import {
  PATH_VALUE,
  SNP_FIRMWARE_VALUE,
  SNP_GUEST_POLICY_VALUE,
  SNP_PLATFORM_INFO_VALUE,
  SNP_TCB_VALUE,
  TIME_VALUE,
  URL_VALUE,
  hexValue,
  integerValue,
} from '../option-values.ts'
import { emit, reply } from '../output.ts'
import { anchorPhrase } from './evidence-anchor.ts'
import { DCAP_OPTIONS, REPORT_DATA, verifyDcapFromCli } from './evidence-dcap.ts'
import { readDocumentFile } from './initdata-input.ts'
import { cacheDirectory, guessProduct, loadEvidence } from './evidence-input.ts'
import { refuseWrongOptionFile } from './option-file.ts'

const SNP: readonly EvidenceKind[] = ['snp']
const HOST_DATA = hexValue(32, 'HOST_DATA')
const MEASUREMENT = hexValue(48, 'MEASUREMENT')
const VMPL = integerValue(0, 3, 'VMPL')
const GUEST_SVN = integerValue(0, 0xffff_ffff, 'GUEST_SVN is a u32')

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
    refuseWrongOptionFile('--certs', path, bytes)
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
    const bytes = await readInput(path, { what: 'trusted root bundle', stdin: io.stdin })
    refuseWrongOptionFile('--trust-root', path, bytes)
    const pem = Buffer.from(bytes).toString('utf8')
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
    parsePemBundle(pem, path).forEach((certificate, i) => {
      const match = /^(ARK|SEV|SEV-VLEK)-(Milan|Genoa|Turin)$/.exec(certificate.commonName)
      if (match === null) {
        throw new MalformedInputError(
          'ERR_TRUST_ROOT_CERTIFICATE',
          `--trust-root ${path}: certificate #${i + 1} (${certificate.commonName}) is not an ARK, ASK or ASVK`,
          {
            details: { path, certificate: i + 1, common_name: certificate.commonName },
            hint: 'give only the roots of the test PKI (ARK-PRODUCT, SEV-PRODUCT, SEV-VLEK-PRODUCT); a VCEK goes to --certs',
          },
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
      throw new MalformedInputError(
        'ERR_TRUST_ROOT_NO_ARK',
        `--trust-root: an ASK or ASVK of ${product} is given, but no ARK-${product}`,
        {
          details: { product },
          hint: `add ARK-${product} (the self-signed root) to the --trust-root files: it is what the chain ends at`,
        },
      )
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
      value: PATH_VALUE,
      appliesTo: SNP,
      multiple: true,
      valueName: 'FILE',
      help: 'VCEK/VLEK/ASK/ARK certificates (DER or PEM bundles)',
    },
    at: {
      type: 'string',
      value: TIME_VALUE,
      valueName: 'TIME',
      help: 'check certificate validity at this ISO 8601 time instead of now',
    },
    offline: {
      type: 'boolean',
      help: 'never use the network: only --certs, the evidence, the cache and --kds-store',
    },
    'kds-url': {
      type: 'string',
      value: URL_VALUE,
      appliesTo: SNP,
      valueName: 'URL',
      help: 'AMD KDS base URL (default https://kdsintf.amd.com): for a VCEK neither the evidence nor --certs holds, and --fetch-crl; not with --offline',
    },
    'kds-store': {
      type: 'string',
      value: PATH_VALUE,
      appliesTo: SNP,
      valueName: 'DIR',
      help: 'offline VCEK store: DIR/{product}/{hwid}/{tcb}.der; only for a VCEK neither the evidence nor --certs holds',
    },
    'cache-dir': {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'DIR',
      help: 'download cache (default $XDG_CACHE_HOME/initguard): SEV-SNP, for a VCEK not given or --fetch-crl; TDX/SGX, without --collateral',
    },
    crl: {
      type: 'string',
      value: PATH_VALUE,
      appliesTo: SNP,
      valueName: 'FILE',
      help: "AMD's CRL for the product (DER): the chain must not be on it",
    },
    'fetch-crl': {
      type: 'boolean',
      appliesTo: SNP,
      help: "fetch AMD's CRL from KDS (cached) and check the chain against it",
    },
    'trust-root': {
      type: 'string',
      value: PATH_VALUE,
      appliesTo: SNP,
      multiple: true,
      valueName: 'FILE',
      help: "trust these ARK/ASK/ASVK (PEM) instead of AMD's: for test PKIs only",
    },
    'expect-host-data': {
      type: 'string',
      value: HOST_DATA,
      appliesTo: SNP,
      valueName: 'HEX',
      help: 'HOST_DATA must be exactly this (32 bytes)',
    },
    'expect-initdata': {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'HOST_DATA must bind this initdata document',
    },
    'expect-measurement': {
      type: 'string',
      value: MEASUREMENT,
      appliesTo: SNP,
      multiple: true,
      valueName: 'HEX',
      help: 'MEASUREMENT must be one of these',
    },
    'expect-report-data': {
      type: 'string',
      value: REPORT_DATA,
      valueName: 'HEX',
      help: 'REPORT_DATA must be exactly this (64 bytes)',
    },
    'expect-vmpl': {
      type: 'string',
      value: VMPL,
      appliesTo: SNP,
      valueName: 'N',
      help: 'VMPL must be N',
    },
    'min-tcb': {
      type: 'string',
      value: SNP_TCB_VALUE,
      appliesTo: SNP,
      valueName: 'bl=N,tee=N,snp=N,ucode=N[,fmc=N]',
      help: 'REPORTED_TCB must be at least this; a Turin report needs fmc=N too',
    },
    'min-launch-tcb': {
      type: 'string',
      value: SNP_TCB_VALUE,
      appliesTo: SNP,
      valueName: 'bl=N,tee=N,snp=N,ucode=N[,fmc=N]',
      help: 'LAUNCH_TCB (the firmware that launched the guest and took its measurement) must be at least this; a Turin report needs fmc=N too',
    },
    'refuse-provisional-firmware': {
      type: 'boolean',
      appliesTo: SNP,
      help: 'refuse a report whose current TCB or firmware version differs from the committed one (the host can still roll it back)',
    },
    'min-firmware': {
      type: 'string',
      value: SNP_FIRMWARE_VALUE,
      appliesTo: SNP,
      valueName: 'MAJOR.MINOR.BUILD',
      help: 'the running SEV firmware (CURRENT_MAJOR.MINOR.BUILD) must be at least this version, compared major, then minor, then build (1.56.0 is above 1.55.29)',
    },
    'guest-policy': {
      type: 'string',
      value: SNP_GUEST_POLICY_VALUE,
      appliesTo: SNP,
      valueName: 'KEY=0|1,…',
      help: 'GUEST_POLICY bits that must be set (1) or clear (0): smt, singleSocket, cxlAllow, memAes256Xts, raplDis, ciphertextHiding, pageSwapDisable; e.g. smt=0 refuses a guest whose policy allows SMT',
    },
    'platform-info': {
      type: 'string',
      value: SNP_PLATFORM_INFO_VALUE,
      appliesTo: SNP,
      valueName: 'KEY=0|1,…',
      help: "PLATFORM_INFO bits (the host's state) that must be set (1) or clear (0): smtEnabled, tsmeEnabled, eccEnabled, raplDisabled, ciphertextHidingEnabled, aliasCheckComplete, tioEnabled",
    },
    'min-guest-svn': {
      type: 'string',
      value: GUEST_SVN,
      appliesTo: SNP,
      valueName: 'N',
      help: 'GUEST_SVN must be at least N',
    },
    'allow-debug': {
      type: 'boolean',
      help: 'accept a guest whose policy allows debugging (never in production)',
    },
    'allow-migration-agent': {
      type: 'boolean',
      appliesTo: SNP,
      help: 'accept a guest whose policy allows a migration agent',
    },
    ...DCAP_OPTIONS,
    json: JSON_OPTION,
  },
  async run(args, io) {
    refuseTogether(
      args,
      'expect-host-data',
      'expect-initdata',
      'HOST_DATA is bound by one of them: give the document, or the value it binds to',
    )
    refuseTogether(args, 'crl', 'fetch-crl', 'give the CRL file (air-gapped), or fetch it from KDS')
    refuseTogether(
      args,
      'collateral',
      'pccs',
      'the collateral comes from the files given, or from a PCCS: give one',
    )
    // The files are read as given: the cache only holds what is downloaded from a PCCS or PCS.
    refuseTogether(
      args,
      'collateral',
      'cache-dir',
      'the collateral files are read as given and never cached; --cache-dir is where collateral downloaded from a PCCS goes',
    )
    const loaded = await loadEvidence(args, io, 'evidence verify')
    const now = parsedOption(args, 'at', TIME_VALUE) ?? new Date()
    if (loaded.family === 'dcap') {
      const sgx = loaded.evidence.quote.body.kind === 'sgx'
      refuseInapplicableOptions(args, sgx ? 'sgx' : 'tdx', sgx ? 'an SGX quote' : 'a TDX quote')
      // Offline, only the cache is read, keyed by path: the service asked is never contacted.
      if (args.values['offline'] === true)
        refuseWithoutEffect(
          args,
          'pccs',
          '--offline never contacts a PCCS or Intel PCS (only the cache is read)',
          'drop --pccs to work offline from the cache, or drop --offline to fetch from that PCCS',
        )
      emit(
        io,
        args.values['json'] === true,
        await verifyDcapFromCli(loaded.evidence, now, args, io),
      )
      return 0
    }
    const evidence = loaded.evidence
    refuseInapplicableOptions(args, 'snp', 'SEV-SNP evidence')
    const hostData = parsedOption(args, 'expect-host-data', HOST_DATA)
    const initdataPath = parsedOption(args, 'expect-initdata', PATH_VALUE)
    const reportData = parsedOption(args, 'expect-report-data', REPORT_DATA)
    const measurements = parsedList(args, 'expect-measurement', MEASUREMENT)
    const minimumTcb = parsedOption(args, 'min-tcb', SNP_TCB_VALUE)
    const minimumLaunchTcb = parsedOption(args, 'min-launch-tcb', SNP_TCB_VALUE)
    const minimumFirmware = parsedOption(args, 'min-firmware', SNP_FIRMWARE_VALUE)
    const vmpl = parsedOption(args, 'expect-vmpl', VMPL)
    const minimumGuestSvn = parsedOption(args, 'min-guest-svn', GUEST_SVN)
    const guestPolicy = parsedOption(args, 'guest-policy', SNP_GUEST_POLICY_VALUE)
    const platformInfo = parsedOption(args, 'platform-info', SNP_PLATFORM_INFO_VALUE)
    const policy: SnpAppraisalPolicy = {
      ...(hostData === undefined ? {} : { hostData }),
      ...(reportData === undefined ? {} : { reportData }),
      ...(initdataPath === undefined
        ? {}
        : {
            initdata: await readDocumentFile(initdataPath, io, { option: 'expect-initdata' }),
          }),
      ...(measurements.length === 0 ? {} : { measurements }),
      ...(minimumTcb === undefined ? {} : { minimumTcb }),
      ...(minimumLaunchTcb === undefined ? {} : { minimumLaunchTcb }),
      refuseProvisionalFirmware: args.values['refuse-provisional-firmware'] === true,
      ...(minimumFirmware === undefined ? {} : { minimumFirmware }),
      ...(vmpl === undefined ? {} : { vmpl }),
      ...(minimumGuestSvn === undefined ? {} : { minimumGuestSvn }),
      ...(guestPolicy === undefined ? {} : { guestPolicy }),
      ...(platformInfo === undefined ? {} : { platformInfo }),
      allowDebug: args.values['allow-debug'] === true,
      allowMigrationAgent: args.values['allow-migration-agent'] === true,
    }
    const anchors = await trustAnchors(parsedList(args, 'trust-root', PATH_VALUE), io)
    const certificates = await readCertificates(parsedList(args, 'certs', PATH_VALUE), io)
    const cache = new SnpVerifierCache()
    refuseUnusedKdsOptions(args, evidence, certificates, cache)
    const crl = await loadCrl(evidence.report, args, io, anchors)
    const options = {
      now,
      anchors,
      certificates,
      policy,
      cache,
      ...(crl === undefined ? {} : { crl }),
    }
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
      const vcek = await fetchVcek(evidence.report, args, anchors)
      result = verifySnpEvidence(evidence, { ...options, certificates: [...certificates, vcek] })
    }
    const c = result.claims
    return reply(io, args, {
      json: {
        ok: true,
        tee: 'snp',
        product: result.product,
        signing_key: result.signingKey,
        claims: c,
        chain: result.chain,
      },
      text: [
        `ok: genuine ${result.product} SEV-SNP report, signed by the ${result.signingKey.toUpperCase()}, chain to ${anchorPhrase(result.chain.anchor, `AMD's ARK-${result.product}`, '--trust-root')}; the chain is valid until ${result.chain.validUntil}`,
        `MEASUREMENT  ${c.measurement}`,
        `HOST_DATA    ${c.host_data}`,
        `REPORT_DATA  ${c.report_data}`,
        `VMPL ${c.vmpl}, reported TCB BL ${c.reported_tcb.bootloader} TEE ${c.reported_tcb.tee} SNP ${c.reported_tcb.snp} UCODE ${c.reported_tcb.microcode}${c.reported_tcb.fmc === undefined ? '' : ` FMC ${c.reported_tcb.fmc}`}, debug ${c.policy.debug_allowed ? 'ALLOWED' : 'off'}`,
      ].join('\n'),
      warnings: result.warnings,
    })
  },
}

/**
 * Refuse `--kds-url`, `--kds-store` and `--cache-dir` where SEV-SNP verification fetches nothing
 * they could change. AMD KDS is asked for two things only: the VCEK, when the report is signed by
 * the VCEK and neither the evidence nor `--certs` holds one (the store, then the cache, then KDS);
 * and the CRL under `--fetch-crl` (the cache, then KDS; the store holds no CRL). The ASK and ARK
 * are never fetched: they are the pinned roots or `--trust-root`. Decided from the certificates
 * before anything is fetched, by the verifier's own sorting ({@link snpEndorsementToFetch}).
 * `--offline` itself is a promise (no network) and is kept: with every certificate given it holds.
 *
 * @throws {@link UsageError} `ERR_OPTION_NOT_APPLICABLE` naming the option, why, and what to do.
 */
function refuseUnusedKdsOptions(
  args: ParsedArgs,
  evidence: SnpEvidence,
  certificates: readonly (Uint8Array | string)[],
  cache: SnpVerifierCache,
): void {
  if (args.values['offline'] === true)
    refuseWithoutEffect(
      args,
      'kds-url',
      '--offline never contacts AMD KDS (only the cache and --kds-store are read)',
      'drop --kds-url to work offline, or drop --offline to fetch from that KDS',
    )
  const signer = evidence.report.signerInfo.signingKey
  // An unsigned report is the verifier's to refuse; a VCEK that is looked up uses them all.
  if (signer !== 'vcek' && signer !== 'vlek') return
  if (snpEndorsementToFetch(evidence, { certificates, cache }) !== undefined) return
  const key = signer.toUpperCase()
  const why =
    signer === 'vlek' ? 'AMD KDS does not serve VLEKs' : 'it came with the evidence or in --certs'
  refuseWithoutEffect(
    args,
    'kds-store',
    `the ${key} is given, so none is looked up in the store (${why}; the store holds VCEKs only, never a CRL)`,
    'drop --kds-store: it is read only for a VCEK that is neither in the evidence nor in --certs',
  )
  if (args.values['fetch-crl'] === true) return
  for (const name of ['kds-url', 'cache-dir'])
    refuseWithoutEffect(
      args,
      name,
      `the ${key} is given, so nothing is fetched from AMD KDS (${why}; the ASK and ARK are the pinned roots or --trust-root; the CRL is fetched only with --fetch-crl)`,
      `drop --${name}: it is used only to fetch a VCEK that is not given, or the CRL with --fetch-crl`,
    )
}

/** The KDS client; what it downloads is checked against `anchors` (those of --trust-root) before it is cached. */
function kdsClient(args: ParsedArgs, anchors: SnpTrustAnchors): AmdKdsClient {
  const baseUrl = parsedOption(args, 'kds-url', URL_VALUE)
  const offlineStore = parsedOption(args, 'kds-store', PATH_VALUE)
  return new AmdKdsClient({
    cacheDir: cacheDirectory(args),
    offline: args.values['offline'] === true,
    anchors,
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

async function fetchVcek(
  report: SnpReport,
  args: ParsedArgs,
  anchors: SnpTrustAnchors,
): Promise<Uint8Array> {
  const product = productForDownload(report, 'VCEK', 'give the VCEK with --certs')
  return kdsClient(args, anchors).vcek(
    product,
    report.chipId,
    decodeTcbVersion(report.reportedTcb, product),
  )
}

async function loadCrl(
  report: SnpReport,
  args: ParsedArgs,
  io: CliIo,
  anchors: SnpTrustAnchors,
): Promise<Uint8Array | undefined> {
  const path = parsedOption(args, 'crl', PATH_VALUE)
  if (path !== undefined) {
    const bytes = await readInput(path, { what: 'CRL', stdin: io.stdin, maxSize: 16 * 1024 * 1024 })
    refuseWrongOptionFile('--crl', path, bytes)
    return bytes
  }
  if (args.values['fetch-crl'] !== true) return undefined
  const product = productForDownload(report, 'CRL', 'give the CRL with --crl')
  return kdsClient(args, anchors).crl(
    product,
    report.signerInfo.signingKey === 'vlek' ? 'vlek' : 'vcek',
  )
}
