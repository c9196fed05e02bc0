/**
 * The KBS appraiser: evidence → verified facts → binding → init-data → workload.
 *
 * 1. **verify** the primary evidence (a failure is a 401 with the verifier's code; genuine evidence
 *    whose TCB needs a recovery is a 403; collateral that cannot be had is thrown, a service fault);
 * 2. **bind**: REPORT_DATA must equal `expectedReportData({nonce, teePubkey, additionalEvidence})`
 *    (401 `ERR_KBS_REPORT_DATA_MISMATCH`);
 * 3. **init-data** (when sent): its fitted digest must equal HOST_DATA / MRCONFIGID / CONFIGID
 *    (401 `ERR_KBS_INITDATA_MISMATCH`), and its `[data]` becomes `init_data_claims`;
 * 4. **workloads**: default deny. A workload matches when its TEE, one of its accepted init-data
 *    documents (by the hardware field, so a guest that sends no init-data body still matches by
 *    what it was launched with), every reference value and its CEL expression all hold. None →
 *    403 `ERR_KBS_NO_WORKLOAD` naming, per workload, the first reason it did not match. **More
 *    than one → 403 `ERR_KBS_WORKLOAD_AMBIGUOUS`**: two workloads that accept the same guest are a
 *    configuration error, and picking one would hand the guest the other's secrets or not; the
 *    operator makes them disjoint (different init-data or measurements).
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { bytesToHex, constantTimeEqual, isInitguardError } from '@initguard/core'
import { expectedReportData } from '@initguard/kbs-protocol'
import type {
  AppraisalOutcome,
  AppraisalRefused,
  Appraiser,
  AttestationToAppraise,
  ResourcePath,
  WorkloadStore,
} from '../ports.ts'
import type { CompiledWorkload, WorkloadCompiler } from '../workloads/compiled-workload.ts'
import { checkInitData } from './init-data-binding.ts'
import type { EvidenceVerifier, VerifiedEvidence } from './verified-evidence.ts'
import { workloadMismatch } from './workload-match.ts'
import { WorkloadSnapshot } from './workload-snapshot.ts'

/** Options for {@link createAppraiser}. */
export interface AppraiserOptions {
  readonly verifier: EvidenceVerifier
  readonly workloads: WorkloadStore
  /** Where compiled workloads are cached; default a private one of 256 entries. */
  readonly compiler?: WorkloadCompiler
  /**
   * How long one read of the workloads may be served, in ms (0 to 60 000): the bound within which
   * a change made through another replica is seen. Default 0 (read for every request); the server
   * uses its `[workloads] cache-max-age` (default 2 s) and calls `workloadsChanged` after its own
   * writes.
   */
  readonly workloadCacheMs?: number
}

/** Most per-workload reasons a refusal lists. */
const MAX_REASONS = 8

/**
 * Hex SHA-256 of the evidence as it was sent (its JSON, members in the order received), or
 * `undefined` when it is not JSON. It names the evidence in the audit log; the RFC 8785 form
 * would cost a quarter of a warm handshake for a digest nobody recomputes elsewhere.
 */
function evidenceDigest(evidence: unknown): string | undefined {
  try {
    const text = JSON.stringify(evidence) as string | undefined
    return text === undefined ? undefined : createHash('sha256').update(text).digest('hex')
  } catch {
    return undefined
  }
}

function refused(
  status: 401 | 403,
  code: string,
  detail: string,
  simulated: boolean,
  digest: string | undefined,
): AppraisalRefused {
  return {
    accepted: false,
    status,
    code,
    detail,
    simulated,
    ...(digest === undefined ? {} : { evidenceDigest: digest }),
  }
}

/** The verification failure as a refusal; a fault of the service (collateral, a bug) is thrown. */
function verificationRefusal(error: unknown, digest: string | undefined): AppraisalRefused {
  if (isInitguardError(error)) {
    if (error.category === 'expectation') {
      return refused(403, error.code, error.message, false, digest)
    }
    if (
      error.category === 'malformed' ||
      error.category === 'verification' ||
      error.category === 'usage'
    ) {
      return refused(
        401,
        error.code,
        `the evidence does not verify: ${error.message}`,
        false,
        digest,
      )
    }
  }
  throw error
}

/** An {@link Appraiser} over `verifier` and the stored workloads. */
export function createAppraiser(options: AppraiserOptions): Appraiser {
  const { verifier } = options
  const snapshot = new WorkloadSnapshot(options.workloads, {
    maxAgeMs: options.workloadCacheMs ?? 0,
    ...(options.compiler === undefined ? {} : { compiler: options.compiler }),
  })

  async function appraise(attestation: AttestationToAppraise): Promise<AppraisalOutcome> {
    const digest = evidenceDigest(attestation.primaryEvidence)
    let verified: VerifiedEvidence
    try {
      verified = await verifier.verify(
        attestation.tee,
        attestation.primaryEvidence,
        attestation.now,
      )
    } catch (error) {
      return verificationRefusal(error, digest)
    }
    const { simulated } = verified
    const expected = expectedReportData(attestation)
    if (!constantTimeEqual(expected, verified.reportData)) {
      return refused(
        401,
        'ERR_KBS_REPORT_DATA_MISMATCH',
        'the evidence is bound to another key or challenge: its REPORT_DATA is not SHA-384 of this nonce, TEE public key and additional evidence (RFC 8785 JSON), zero-padded',
        simulated,
        digest,
      )
    }
    const initData = checkInitData(attestation.initData, verified)
    if (!initData.ok) {
      const { status, code, detail } = initData.refusal
      return refused(status, code, detail, simulated, digest)
    }
    const claims = {
      [verified.tee]: verified.claims,
      init_data: bytesToHex(verified.initDataField),
      init_data_claims: initData.claims,
      report_data: bytesToHex(verified.reportData),
      runtime_data_claims: {
        nonce: attestation.nonce,
        'tee-pubkey': attestation.teePubkey,
        'additional-evidence': attestation.additionalEvidence,
      },
    }
    const initDataDigest = initData.digest
    const { compiled, invalid } = await snapshot.current()
    const reasons = [...invalid]
    const matched: CompiledWorkload[] = []
    for (const workload of compiled) {
      const reason = workloadMismatch(
        workload,
        verified,
        { tee: verified.tee, ...claims },
        initDataDigest,
      )
      if (reason === undefined) matched.push(workload)
      else reasons.push(`workload '${workload.name}': ${reason}`)
    }
    const [only, ...others] = matched
    if (only === undefined) {
      const listed = reasons.slice(0, MAX_REASONS)
      const more = reasons.length - listed.length
      const detail =
        reasons.length === 0
          ? 'no workload accepts this evidence: no workload is defined (put one with `initguard kbs admin workload put`)'
          : `no workload accepts this evidence: ${listed.join('; ')}${more > 0 ? `; and ${more} more` : ''}`
      return {
        ...refused(403, 'ERR_KBS_NO_WORKLOAD', detail, simulated, digest),
        clientDetail:
          reasons.length === 0
            ? detail
            : `no workload accepts this evidence (${String(compiled.length + invalid.length)} considered); the KBS operator finds each workload's reason in the audit log`,
      }
    }
    if (others.length > 0) {
      // The names are the operator's to read (audit log), not the guest's: the other workload may
      // be another tenant's, whose guests share this launch (a public image, a default init-data).
      return {
        ...refused(
          403,
          'ERR_KBS_WORKLOAD_AMBIGUOUS',
          `more than one workload accepts this evidence (${matched.map((w) => `'${w.name}'`).join(', ')}); make them disjoint (different init-data documents or reference values)`,
          simulated,
          digest,
        ),
        clientDetail: `more than one workload accepts this evidence (${String(matched.length)}), so none is chosen; the KBS operator finds which in the audit log and makes them disjoint`,
      }
    }
    return {
      accepted: true,
      tee: verified.tee,
      workload: { name: only.name, version: only.version },
      simulated,
      evidenceDigest: digest ?? '',
      annotatedEvidence: claims,
    }
  }

  return {
    appraise,
    async mayRelease(
      workload: { readonly name: string; readonly version: number },
      path: ResourcePath,
    ): Promise<'allowed' | 'denied' | 'changed'> {
      let found = (await snapshot.current()).byName.get(workload.name)
      // A version the snapshot does not have (another replica's newer one, or this one's older):
      // read again, so only the store's newest version decides.
      if (found?.stored.version !== workload.version)
        found = (await snapshot.fresh()).byName.get(workload.name)
      if (found?.stored.version !== workload.version) return 'changed'
      // A definition that no longer validates releases nothing.
      return found.compiled?.mayRelease(path) === true ? 'allowed' : 'denied'
    },
    workloadsChanged(): void {
      snapshot.invalidate()
    },
  }
}
