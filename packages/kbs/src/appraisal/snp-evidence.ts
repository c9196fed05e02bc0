/**
 * SEV-SNP evidence for the KBS: Trustee's JSON parsed, verified with `verifySnpEvidence` (chain
 * to the pinned AMD ARK, or to the simulator's ARK when that is trusted and the evidence carries
 * it), the chain checked against AMD's CRL of its product (`SnpRevocation`; Trustee checks none),
 * and its claims under Trustee's names (`deps/verifier/src/snp`, relying-party.md §2.1).
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { isInitguardError } from '@initguard/core'
import {
  AMD_PRODUCTION_ANCHORS,
  currentFirmwareVersion,
  decodeTcbVersion,
  parseTrusteeSnpEvidence,
  productFromCpuid,
  provisionalFirmwareDifferences,
  verifySnpEvidence,
  type SnpClaims,
  type SnpEvidence,
  type SnpTrustAnchors,
  type SnpVerification,
  type SnpVerifierCache,
  type SnpVerifyOptions,
  type TrusteeSnpEvidence,
} from '@initguard/snp'
import type { SimulatorTrust } from '@initguard/tee-simulator'
import type { SnpRevocation } from './snp-revocation.ts'
import type { SnpTrust, VerifiedSnpEvidence } from './verified-evidence.ts'

/**
 * The claims Trustee's SNP verifier emits, plus the other report fields policies need. Hex is
 * lower case; `init_data` and `report_data` go to the top level of the token, as Trustee moves them.
 */
export function trusteeSnpClaims(claims: SnpClaims): Record<string, unknown> {
  const tcb = claims.reported_tcb
  return {
    measurement: claims.measurement,
    chip_id: claims.chip_id,
    policy_abi_major: claims.policy.abi_major,
    policy_abi_minor: claims.policy.abi_minor,
    policy_smt_allowed: claims.policy.smt_allowed,
    policy_migrate_ma: claims.policy.migrate_ma,
    policy_debug_allowed: claims.policy.debug_allowed,
    policy_single_socket: claims.policy.single_socket,
    platform_tsme_enabled: claims.platform.tsme_enabled,
    platform_smt_enabled: claims.platform.smt_enabled,
    reported_tcb_bootloader: tcb.bootloader,
    reported_tcb_tee: tcb.tee,
    reported_tcb_snp: tcb.snp,
    reported_tcb_microcode: tcb.microcode,
    ...(tcb.fmc === undefined ? {} : { reported_tcb_fmc: tcb.fmc }),
    report_version: claims.report_version,
    product: claims.product,
    signing_key: claims.signing_key,
    vmpl: claims.vmpl,
    guest_svn: claims.guest_svn,
    family_id: claims.family_id,
    image_id: claims.image_id,
    id_key_digest: claims.id_key_digest,
    author_key_digest: claims.author_key_digest,
  }
}

/** The simulator's anchors when the evidence's ARK is the simulator's ARK. */
function simulatorAnchorsFor(
  evidence: SnpEvidence,
  simulator: SimulatorTrust | undefined,
): SnpTrustAnchors | undefined {
  if (simulator === undefined) return undefined
  const ark = evidence.certificates.find((entry) => entry.kind === 'ark')
  if (ark === undefined) return undefined
  const fingerprint = createHash('sha256').update(ark.data).digest('hex')
  const simulated = Object.values(simulator.snpAnchors.roots).some(
    (root) => root.fingerprints.ark === fingerprint,
  )
  return simulated ? simulator.snpAnchors : undefined
}

/** Debug, migration and VMPL are the workload's to decide: verification accepts them all. */
const VERIFY_ONLY = { allowDebug: true, allowMigrationAgent: true } as const

async function verifyWithKds(
  evidence: SnpEvidence,
  options: SnpVerifyOptions,
  trust: SnpTrust | undefined,
): Promise<ReturnType<typeof verifySnpEvidence>> {
  try {
    return verifySnpEvidence(evidence, options)
  } catch (error) {
    const { report } = evidence
    const product =
      report.cpuidFamilyId === undefined || report.cpuidModelId === undefined
        ? 'unknown'
        : productFromCpuid(report.cpuidFamilyId, report.cpuidModelId)
    if (
      trust?.kds === undefined ||
      !isInitguardError(error) ||
      error.code !== 'ERR_SNP_ENDORSEMENT_MISSING' ||
      report.signerInfo.signingKey !== 'vcek' ||
      product === 'unknown'
    ) {
      throw error
    }
    const vcek = await trust.kds.vcek(
      product,
      report.chipId,
      decodeTcbVersion(report.reportedTcb, product),
    )
    return verifySnpEvidence(evidence, {
      ...options,
      certificates: [...(options.certificates ?? []), vcek],
    })
  }
}

/**
 * Verify Trustee SNP evidence JSON at `now`, its chain checked against AMD's CRL (the CRL is
 * fetched only for a chain that verified).
 *
 * @throws the SNP verifier's coded errors (`ERR_SNP_CERT_REVOKED`, `ERR_SNP_CRL_STALE`, …);
 *   `ERR_KDS_…` when a VCEK or CRL must be fetched and cannot be; `ERR_KBS_SNP_CRL_MISSING` when
 *   no source has the chain's CRL.
 */
export async function verifyTrusteeSnpEvidence(
  json: unknown,
  now: Date,
  trust: { readonly snp?: SnpTrust; readonly simulator?: SimulatorTrust },
  cache: SnpVerifierCache,
  revocation: SnpRevocation,
): Promise<VerifiedSnpEvidence> {
  const evidence = parseTrusteeSnpEvidence(json)
  const simulatorAnchors = simulatorAnchorsFor(evidence, trust.simulator)
  const anchors = simulatorAnchors ?? trust.snp?.anchors
  const options: SnpVerifyOptions = {
    now,
    cache,
    policy: VERIFY_ONLY,
    ...(anchors === undefined ? {} : { anchors }),
    ...(simulatorAnchors === undefined && trust.snp?.certificates !== undefined
      ? { certificates: trust.snp.certificates }
      : {}),
  }
  const result =
    simulatorAnchors === undefined
      ? await verifyWithKds(evidence, options, trust.snp)
      : verifySnpEvidence(evidence, options)
  await revocation.check(
    {
      subject: result.chain.revocation,
      anchors: anchors ?? AMD_PRODUCTION_ANCHORS,
      simulated: simulatorAnchors !== undefined,
    },
    now,
  )
  return snpEvidenceFacts(evidence, result, simulatorAnchors !== undefined)
}

/**
 * The facts the KBS appraises, from SNP evidence its verifier accepted (chain, signature and, in
 * {@link verifyTrusteeSnpEvidence}, AMD's CRL): one mapping, whoever verified.
 */
export function snpEvidenceFacts(
  evidence: TrusteeSnpEvidence,
  result: SnpVerification,
  simulated: boolean,
): VerifiedSnpEvidence {
  const { report } = evidence
  const claims = result.claims
  return {
    tee: 'snp',
    simulated,
    reportData: report.reportData,
    initDataField: report.hostData,
    initDataFieldName: 'HOST_DATA',
    claims: trusteeSnpClaims(claims),
    anchor: result.chain.anchor,
    warnings: result.warnings,
    measurement: report.measurement,
    reportedTcb: claims.reported_tcb,
    launchTcb: claims.launch_tcb,
    provisionalFirmware: provisionalFirmwareDifferences(report, claims.product),
    firmware: currentFirmwareVersion(report),
    guestPolicy: report.policy,
    platformInfo: report.platformInfo,
    debug: claims.policy.debug_allowed,
    migration: claims.policy.migrate_ma,
    vmpl: claims.vmpl,
  }
}
