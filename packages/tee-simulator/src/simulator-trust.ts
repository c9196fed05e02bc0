/**
 * The simulator's public trust material in the shapes the verifiers take: the only way its
 * evidence is ever accepted is by passing these explicitly (`verifySnpEvidence({ anchors })`,
 * `verifyDcapQuote({ root, collateral })`, or `--trust-root`, `--intel-root`, `--collateral`).
 *
 * Pure.
 *
 * @module
 */
import { createHash, X509Certificate } from 'node:crypto'
import type { AmdProduct } from './amd-pki-types.ts'
import type { SnpTrustAnchors } from '@initguard/snp'
import { parseCollateralJson, type DcapCollateral } from '@initguard/tdx/parsers'

/** What a relying party needs to accept the simulator's evidence, and nothing more. */
export interface SimulatorTrust {
  /** The simulator's ARK and ASK as the SEV-SNP verifier's anchors (for its product only). */
  readonly snpAnchors: SnpTrustAnchors
  /**
   * The simulator's VCEK CRL (DER), signed by its ARK: what a relying party that checks AMD's CRL
   * (the KBS) checks the simulator's chains against, in place of KDS `/vcek/v1/{product}/crl`.
   */
  readonly snpCrl: Uint8Array
  /** The simulator's Intel-shaped root, PEM: the DCAP verifier's `root`. */
  readonly intelRoot: string
  /** The simulator's TDX collateral, parsed: the DCAP verifier's `collateral`. */
  readonly collateral: DcapCollateral
}

/** The public parts {@link simulatorTrustFrom} reads. */
export interface SimulatorPublicMaterial {
  readonly product: AmdProduct
  readonly arkPem: string
  readonly askPem: string
  /** The VCEK CRL, DER. */
  readonly amdCrl: Uint8Array
  readonly intelRootPem: string
  readonly collateralJson: string
}

/** SHA-256 of a certificate's DER, hex: the fingerprint verifiers print and pin by. */
export function certificateSha256(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')
}

/**
 * The verifiers' trust material for a simulator. There is no ASVK: the simulator issues no VLEK.
 *
 * @example
 * ```ts
 * const trust = simulatorTrustFrom({ product: 'Milan', arkPem, askPem, amdCrl, intelRootPem, collateralJson })
 * verifySnpEvidence(evidence, { now, anchors: trust.snpAnchors })
 * verifyDcapQuote(quote, { now, root: trust.intelRoot, collateral: trust.collateral })
 * ```
 *
 * @throws MalformedInputError (from `parseCollateralJson`) for collateral that does not parse.
 */
export function simulatorTrustFrom(material: SimulatorPublicMaterial): SimulatorTrust {
  const { product } = material
  return {
    snpAnchors: {
      roots: {
        [product]: {
          product,
          ark: material.arkPem,
          ask: material.askPem,
          asvk: '',
          fingerprints: {
            ark: certificateSha256(material.arkPem),
            ask: certificateSha256(material.askPem),
            asvk: '',
          },
        },
      },
    },
    snpCrl: material.amdCrl.slice(),
    intelRoot: material.intelRootPem,
    collateral: parseCollateralJson(material.collateralJson),
  }
}
