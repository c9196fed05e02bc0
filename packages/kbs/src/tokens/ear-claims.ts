/**
 * The claims of our attestation token, shaped as Trustee's EAR (reference §1.6) so a Trustee
 * client or KBS reads them unchanged, plus our own facts under `initguard`.
 *
 * ```json
 * {"eat_profile":"tag:github.com,2024:confidential-containers/Trustee","iat":…,"exp":…,"iss":"…",
 *  "jti":"<RCAR session id, 32 hex digits>",
 *  "ear.verifier-id":{"developer":"…","build":"…"},
 *  "submods":{"cpu0":{"ear.status":"affirming","ear.trustworthiness-vector":{…},
 *    "ear.appraisal-policy-id":"<workload>@<version>",
 *    "ear.veraison.annotated-evidence":{…,"runtime_data_claims":{"tee-pubkey":{…},…}}}},
 *  "initguard":{"workload":{"name":"…","version":1},"tee":"snp","simulated":false}}
 * ```
 *
 * @module
 */
import { VerificationError, canonicalizeJson, isJsonObject } from '@initguard/core'
import type { KbsTee, TeePublicJwk } from '@initguard/kbs-protocol'
import type { AppraisalAccepted } from '../ports.ts'

/** Trustee's EAT profile, which its clients expect. */
export const EAR_PROFILE = 'tag:github.com,2024:confidential-containers/Trustee'

/** AR4SI status tiers, best first. */
export type EarStatus = 'none' | 'affirming' | 'warning' | 'contraindicated'

/** The eight AR4SI trustworthiness claims, each an integer in -128…127. */
export interface TrustworthinessVector {
  readonly 'instance-identity': number
  readonly configuration: number
  readonly executables: number
  readonly 'file-system': number
  readonly hardware: number
  readonly 'runtime-opaque': number
  readonly 'storage-opaque': number
  readonly 'sourced-data': number
}

/**
 * What an accepted appraisal asserts (AR4SI "affirming" values, 2): a recognised instance, an
 * approved configuration (reference values and init-data), approved executables (measurements),
 * genuine hardware, memory encrypted by the TEE. 0 is "no claim" (we appraise no file system,
 * sealed storage or sourced data). Simulated evidence makes no hardware claim.
 */
export function acceptedTrustVector(simulated: boolean): TrustworthinessVector {
  return {
    'instance-identity': 2,
    configuration: 2,
    executables: 2,
    'file-system': 0,
    hardware: simulated ? 0 : 2,
    'runtime-opaque': 2,
    'storage-opaque': 0,
    'sourced-data': 0,
  }
}

/**
 * The status of a vector as the `ear` crate derives it: the worst tier of any claim, where
 * -1…1 is none, 2…31 affirming, 32…95 warning, and anything else contraindicated.
 */
export function earStatusOf(vector: TrustworthinessVector): EarStatus {
  const rank = { none: 0, affirming: 1, warning: 2, contraindicated: 3 } as const
  let worst: EarStatus = 'none'
  for (const value of Object.values(vector) as number[]) {
    const tier: EarStatus =
      !Number.isInteger(value) || value < -1 || value > 95
        ? 'contraindicated'
        : value <= 1
          ? 'none'
          : value <= 31
            ? 'affirming'
            : 'warning'
    if (rank[tier] > rank[worst]) worst = tier
  }
  return worst
}

/** Who built the token (`ear.verifier-id`). */
export interface VerifierId {
  readonly developer: string
  readonly build: string
}

/** Inputs of {@link earClaims} besides the appraisal. */
export interface EarClaimsInput {
  readonly accepted: AppraisalAccepted
  readonly teePubkey: TeePublicJwk
  readonly issuer: string
  readonly verifierId: VerifierId
  readonly issuedAt: Date
  readonly lifetimeSeconds: number
  /** The RCAR session's id (32 hex digits), carried as `jti`: what links a release to it. */
  readonly session: string
}

/** The note `ear.verifier-id.build` carries for simulator evidence, so no reader misses it. */
export const SIMULATED_BUILD_NOTE = ' (TEE simulator evidence, not hardware)'

/**
 * The token's claims for an accepted appraisal.
 *
 * @throws {@link VerificationError} `ERR_KBS_TOKEN_TEE_KEY_MISMATCH` when the annotated evidence
 *   already names a TEE key other than `teePubkey` (a token is only ever for the key the evidence
 *   was bound to).
 */
export function earClaims(input: EarClaimsInput): Record<string, unknown> {
  const { accepted, teePubkey } = input
  const annotated = accepted.annotatedEvidence
  const runtime = annotated['runtime_data_claims']
  const runtimeClaims: Record<string, unknown> = isJsonObject(runtime) ? { ...runtime } : {}
  const bound = runtimeClaims['tee-pubkey']
  if (bound !== undefined && canonicalizeJson(bound) !== canonicalizeJson(teePubkey)) {
    throw new VerificationError(
      'ERR_KBS_TOKEN_TEE_KEY_MISMATCH',
      'the token was asked for a TEE key other than the one the evidence is bound to',
      { hint: 'issue the token with the runtime data of the attestation that was appraised' },
    )
  }
  runtimeClaims['tee-pubkey'] = teePubkey
  const vector = acceptedTrustVector(accepted.simulated)
  const iat = Math.floor(input.issuedAt.getTime() / 1000)
  return {
    eat_profile: EAR_PROFILE,
    iat,
    exp: iat + input.lifetimeSeconds,
    iss: input.issuer,
    jti: input.session,
    'ear.verifier-id': {
      developer: input.verifierId.developer,
      build: input.verifierId.build + (accepted.simulated ? SIMULATED_BUILD_NOTE : ''),
    },
    submods: {
      cpu0: {
        'ear.status': earStatusOf(vector),
        'ear.trustworthiness-vector': vector,
        'ear.appraisal-policy-id': appraisalPolicyId(accepted.workload),
        'ear.veraison.annotated-evidence': { ...annotated, runtime_data_claims: runtimeClaims },
      },
    },
    initguard: {
      workload: { name: accepted.workload.name, version: accepted.workload.version },
      tee: accepted.tee,
      simulated: accepted.simulated,
    },
  }
}

/** `ear.appraisal-policy-id`: the workload that accepted the evidence, `<name>@<version>`. */
export function appraisalPolicyId(workload: {
  readonly name: string
  readonly version: number
}): string {
  return `${workload.name}@${String(workload.version)}`
}

/** The TEE types a token may name. */
export const TOKEN_TEES: readonly KbsTee[] = ['snp', 'tdx', 'sgx']
