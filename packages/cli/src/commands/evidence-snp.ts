/**
 * `initguard evidence inspect | verify` for AMD SEV-SNP evidence.
 *
 * @module
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { AmdKdsClient, readInput } from '@initguard/adapters'
import {
  UnavailableError,
  UsageError,
  bytesToHex,
  hexToBytes,
  isInitguardError,
} from '@initguard/core'
import { parseInitdata } from '@initguard/initdata'
import {
  AMD_PRODUCTION_ANCHORS,
  decodeTcbVersion,
  parsePemBundle,
  parseSnpEvidence,
  productFromCpuid,
  verifySnpEvidence,
  type AmdRootSet,
  type DetectedSnpEvidence,
  type SnpAppraisalPolicy,
  type SnpProduct,
  type SnpReport,
  type SnpTrustAnchors,
  type TcbComponents,
} from '@initguard/snp'
import {
  JSON_OPTION,
  listOption,
  onePositional,
  stringOption,
  type Command,
  type ParsedArgs,
} from '../command.ts'
import type { CliIo } from '../cli-io.ts'
import { emit } from '../output.ts'

async function loadEvidence(
  args: ParsedArgs,
  io: CliIo,
  command: string,
): Promise<DetectedSnpEvidence> {
  const bytes = await readInput(onePositional(args, 'FILE', command), {
    what: 'evidence',
    stdin: io.stdin,
  })
  return parseSnpEvidence(bytes)
}

function u64(value: bigint): string {
  return `0x${value.toString(16).padStart(16, '0')}`
}

function guessProduct(report: SnpReport): SnpProduct | undefined {
  if (report.cpuidFamilyId === undefined || report.cpuidModelId === undefined) return undefined
  const product = productFromCpuid(report.cpuidFamilyId, report.cpuidModelId)
  return product === 'unknown' ? undefined : product
}

function tcbText(raw: bigint, product: SnpProduct | undefined): string {
  const tcb = decodeTcbVersion(raw, product ?? 'Milan')
  const fmc = tcb.fmc === undefined ? '' : `FMC ${tcb.fmc} `
  return `${u64(raw)}  ${fmc}BL ${tcb.bootloader} TEE ${tcb.tee} SNP ${tcb.snp} UCODE ${tcb.microcode}${product === undefined ? ' (Milan/Genoa layout)' : ''}`
}

function reportTable(evidence: DetectedSnpEvidence): string {
  const r = evidence.report
  const product = guessProduct(r)
  const flags = (named: Record<string, boolean>): string =>
    Object.entries(named)
      .filter(([, on]) => on)
      .map(([name]) => name)
      .join(' ') || '-'
  const rows: [string, string][] = [
    ['format', evidence.format],
    [
      'version',
      `${r.version}${r.futureVersion ? ' (newer than v5; read with the v5 layout)' : ''}`,
    ],
    [
      'product',
      product ?? (r.cpuidFamilyId === undefined ? 'unknown (v2: named by the VCEK)' : 'unknown'),
    ],
    ['signing key', r.signerInfo.signingKey],
    ['guest SVN', String(r.guestSvn)],
    [
      'policy',
      `${u64(r.policy.raw)}  ABI ≥ ${r.policy.abiMajor}.${r.policy.abiMinor}  ${flags({ smt: r.policy.smt, 'migrate-ma': r.policy.migrateMa, DEBUG: r.policy.debug, 'single-socket': r.policy.singleSocket, 'cxl-allow': r.policy.cxlAllow, 'mem-aes-256-xts': r.policy.memAes256Xts, 'rapl-dis': r.policy.raplDis, 'ciphertext-hiding': r.policy.ciphertextHiding, 'page-swap-disable': r.policy.pageSwapDisable })}`,
    ],
    [
      'platform info',
      `${u64(r.platformInfo.raw)}  ${flags({ smt: r.platformInfo.smtEnabled, tsme: r.platformInfo.tsmeEnabled, ecc: r.platformInfo.eccEnabled, 'rapl-disabled': r.platformInfo.raplDisabled, 'ciphertext-hiding': r.platformInfo.ciphertextHidingEnabled, 'alias-check': r.platformInfo.aliasCheckComplete, tio: r.platformInfo.tioEnabled })}${r.platformInfo.unknownBits.length > 0 ? `  unknown bits ${r.platformInfo.unknownBits.join(',')}` : ''}`,
    ],
    ['VMPL', String(r.vmpl)],
    ['MEASUREMENT', bytesToHex(r.measurement)],
    ['HOST_DATA', bytesToHex(r.hostData)],
    ['REPORT_DATA', bytesToHex(r.reportData)],
    ['CHIP_ID', bytesToHex(r.chipId)],
    ['ID_KEY_DIGEST', bytesToHex(r.idKeyDigest)],
    ['AUTHOR_KEY_DIGEST', bytesToHex(r.authorKeyDigest)],
    ['FAMILY_ID', bytesToHex(r.familyId)],
    ['IMAGE_ID', bytesToHex(r.imageId)],
    ['REPORT_ID', bytesToHex(r.reportId)],
    ['REPORTED_TCB', tcbText(r.reportedTcb, product)],
    ['CURRENT_TCB', tcbText(r.currentTcb, product)],
    ['COMMITTED_TCB', tcbText(r.committedTcb, product)],
    ['LAUNCH_TCB', tcbText(r.launchTcb, product)],
    [
      'firmware',
      `current ${r.currentMajor}.${r.currentMinor}.${r.currentBuild}, committed ${r.committedMajor}.${r.committedMinor}.${r.committedBuild}`,
    ],
    [
      'CPUID',
      r.cpuidFamilyId === undefined
        ? '- (v2)'
        : `family 0x${r.cpuidFamilyId.toString(16)} model 0x${(r.cpuidModelId ?? 0).toString(16)} stepping ${r.cpuidStepping ?? 0}`,
    ],
  ]
  if (r.launchMitVector !== undefined)
    rows.push([
      'mitigation vectors',
      `launch ${u64(r.launchMitVector)}, current ${u64(r.currentMitVector ?? 0n)}`,
    ])
  rows.push(['certificates', evidence.certificates.map((c) => c.kind).join(', ') || '-'])
  if (r.reservedNonZero.length > 0) rows.push(['reserved, not zero', r.reservedNonZero.join(', ')])
  return rows.map(([k, v]) => `${k.padEnd(18)} ${v}`).join('\n')
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary:
    'Show every field of SNP evidence (report, extended report or Trustee JSON). Verifies nothing.',
  usage: 'FILE',
  description:
    'The form is detected: a 1184-byte report, an extended report with its certificate table, or Trustee SNP evidence JSON.',
  options: { json: JSON_OPTION },
  async run(args, io) {
    const evidence = await loadEvidence(args, io, 'evidence inspect')
    const r = evidence.report
    const product = guessProduct(r)
    emit(io, args.values['json'] === true, {
      json: {
        tee: 'snp',
        format: evidence.format,
        product: product ?? null,
        report: reportJson(r),
        certificates: evidence.certificates.map((c) => ({
          kind: c.kind,
          guid: c.guid,
          length: c.data.length,
        })),
      },
      text: reportTable(evidence),
    })
    return 0
  },
}

function reportJson(r: SnpReport): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(r, (key, value: unknown) => {
      if (key === 'raw' && value instanceof Uint8Array) return undefined
      if (key === 'signedBytes') return undefined
      if (value instanceof Uint8Array) return bytesToHex(value)
      if (typeof value === 'bigint') return `0x${value.toString(16).padStart(16, '0')}`
      return value
    }),
  ) as Record<string, unknown>
}

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

function cacheDirectory(args: ParsedArgs): string {
  return (
    stringOption(args, 'cache-dir') ??
    join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'initguard')
  )
}

export const verifySnpCommand: Command = {
  name: 'verify',
  summary:
    'Verify SNP evidence end to end (chain to the pinned AMD root, signature) and appraise it.',
  usage: 'FILE',
  description: [
    'Exit 0 when genuine and as expected; 4 when the signature or chain is invalid; 5 when an',
    'expectation is not met (debug and migration agents are refused unless allowed); 6 when the',
    'VCEK is needed and cannot be had. A missing VCEK is fetched from AMD KDS (cached) unless',
    '--offline.',
    '',
    'Example: initguard evidence verify report.bin --expect-initdata initdata.toml --expect-measurement 5fee…',
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
    json: JSON_OPTION,
  },
  async run(args, io) {
    const evidence = await loadEvidence(args, io, 'evidence verify')
    const at = stringOption(args, 'at')
    const now = at === undefined ? new Date() : new Date(at)
    if (Number.isNaN(now.getTime()))
      throw new UsageError('ERR_USAGE', `--at ${JSON.stringify(at)} is not an ISO 8601 time`)
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
    const options = { now, anchors, certificates, policy }
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
        `ok: genuine ${result.product} SEV-SNP report, signed by the ${result.signingKey.toUpperCase()}, chain to the pinned ARK valid until ${result.chain.validUntil}`,
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

async function fetchVcek(report: SnpReport, args: ParsedArgs): Promise<Uint8Array> {
  const product = guessProduct(report)
  if (product === undefined) {
    throw new UnavailableError(
      'ERR_SNP_ENDORSEMENT_MISSING',
      'no VCEK was given, and a version 2 report does not say its product line, so its VCEK cannot be fetched',
      {
        hint: 'give the VCEK with --certs',
      },
    )
  }
  const client = new AmdKdsClient({
    cacheDir: cacheDirectory(args),
    offline: args.values['offline'] === true,
    ...(stringOption(args, 'kds-url') === undefined
      ? {}
      : { baseUrl: stringOption(args, 'kds-url') ?? '' }),
    ...(stringOption(args, 'kds-store') === undefined
      ? {}
      : { offlineStore: stringOption(args, 'kds-store') ?? '' }),
  })
  return client.vcek(product, report.chipId, decodeTcbVersion(report.reportedTcb, product))
}
