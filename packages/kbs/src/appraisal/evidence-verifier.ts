/**
 * The KBS's evidence verifier: one object per server, holding the trust configuration and the
 * verifiers' caches (parsed certificates, verified chains, AMD CRLs and collateral, attestation
 * keys), so a warm handshake costs the signature checks and little else.
 *
 * @module
 */
import { QuoteVerifierCache } from '@initguard/tdx'
import { SnpVerifierCache } from '@initguard/snp'
import type { KbsTee } from '@initguard/kbs-protocol'
import { DcapCollateralSource } from './dcap-collateral-source.ts'
import { verifyTrusteeDcapEvidence } from './dcap-evidence.ts'
import { verifyTrusteeSnpEvidence } from './snp-evidence.ts'
import { SnpRevocation } from './snp-revocation.ts'
import type { EvidenceTrust, EvidenceVerifier, VerifiedEvidence } from './verified-evidence.ts'

/** Options for {@link createEvidenceVerifier}. */
export interface EvidenceVerifierOptions {
  readonly trust: EvidenceTrust
}

/**
 * An {@link EvidenceVerifier} for `trust`.
 *
 * @example
 * ```ts
 * const verifier = createEvidenceVerifier({ trust: { simulator: await simulatorTrust(dir) } })
 * const facts = await verifier.verify('snp', primaryEvidence, new Date())
 * facts.simulated // true: the chain ended at the simulator's ARK
 * ```
 *
 * @throws `ERR_TDX_COLLATERAL_INVALID` when a configured collateral file does not parse.
 */
export function createEvidenceVerifier(options: EvidenceVerifierOptions): EvidenceVerifier {
  const { trust } = options
  const snpCache = new SnpVerifierCache()
  const quoteCache = new QuoteVerifierCache()
  const collateral = new DcapCollateralSource(trust.dcap, trust.simulator)
  const revocation = new SnpRevocation({
    kds: trust.snp?.kds,
    files: trust.snp?.crlFiles,
    simulatorCrl: trust.simulator?.snpCrl,
  })
  return {
    verify(tee: KbsTee, primaryEvidence: unknown, now: Date): Promise<VerifiedEvidence> {
      if (tee === 'snp')
        return verifyTrusteeSnpEvidence(primaryEvidence, now, trust, snpCache, revocation)
      return verifyTrusteeDcapEvidence(tee, primaryEvidence, now, collateral, quoteCache)
    },
  }
}
