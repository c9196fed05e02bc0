/**
 * What a DCAP verifier keeps across quotes: verified PCK chains, verified collateral and imported
 * attestation keys. A relying party sees the same platforms again and again; with these cached, a
 * quote costs its two ECDSA P-256 checks and byte comparisons.
 *
 * Fail closed: every entry is found only by exactly the bytes (or the very object) whose
 * verification it remembers, and is used only while `now` is inside the window in which all that
 * verification holds.
 *
 * @module
 */
import { Buffer } from 'node:buffer'
import { createPublicKey, type KeyObject } from 'node:crypto'
import { ExactBytesCache, LruCache, VerificationError, bytesToBase64url } from '@initguard/core'
import { parsePckCertChainPem, type PckCertChainData } from './certification-data.ts'
import type { CollateralCertificate } from './collateral-certs.ts'
import type { DcapCollateral } from './collateral.ts'
import { CollateralCache, verifyCollateral, type VerifiedCollateral } from './collateral-verify.ts'
import { verifyPckChain, type VerifiedPckChain } from './pck-chain.ts'
import type { DcapQuote } from './quote.ts'
import type { TcbEvaluation } from './tcb-status.ts'

// Marks a key made of PEM text apart from one made of DER certificates (no certificate is "pem").
const PEM_TEXT = new TextEncoder().encode('pem')

const NO_BYTES = new Uint8Array(0)

/** The body kind as the first part of a TCB evaluation's key (a TD 1.0 and 1.5 body differ). */
const BODY_KIND_BYTES: Readonly<Record<DcapQuote['body']['kind'], Uint8Array>> = {
  sgx: new TextEncoder().encode('sgx'),
  td10: new TextEncoder().encode('td10'),
  td15: new TextEncoder().encode('td15'),
}

/** The bytes as a string, one character a byte: a map key that is exactly those bytes. */
function byteKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

/** Freeze the evaluation and the parts made for it (the TCB levels are the collateral's own). */
function freezeEvaluation(evaluation: TcbEvaluation): TcbEvaluation {
  Object.freeze(evaluation.advisoryIds)
  Object.freeze(evaluation.platform)
  if (evaluation.tdxModule !== undefined) Object.freeze(evaluation.tdxModule)
  Object.freeze(evaluation.qe)
  return Object.freeze(evaluation)
}

/** Verified PCK chains, collateral and attestation keys, kept across verifications. */
export class QuoteVerifierCache {
  readonly collateral: CollateralCache = new CollateralCache()
  readonly #chains = new ExactBytesCache<VerifiedPckChain>(1024)
  readonly #keys = new LruCache<string, KeyObject>(1024)
  readonly #checkedPairs = new WeakMap<VerifiedCollateral, WeakSet<VerifiedPckChain>>()
  readonly #evaluations = new WeakMap<
    VerifiedCollateral,
    WeakMap<VerifiedPckChain, ExactBytesCache<TcbEvaluation>>
  >()
  // Keyed by the collateral object itself: a relying party verifies many quotes against the same
  // parsed collateral, and hashing ~10 KB of it for every quote would cost more than the checks.
  readonly #byObject = new WeakMap<
    DcapCollateral,
    { readonly root: string; readonly verified: VerifiedCollateral }
  >()

  /** Verified collateral, from this cache when the same object was verified for the same root. */
  verifiedCollateral(
    collateral: DcapCollateral,
    root: CollateralCertificate,
    now: Date,
  ): VerifiedCollateral {
    const known = this.#byObject.get(collateral)
    if (
      known?.root === root.fingerprint &&
      now >= known.verified.validFrom &&
      now <= known.verified.validUntil
    ) {
      return known.verified
    }
    const verified = verifyCollateral(collateral, { now, root: root.x509, cache: this.collateral })
    this.#byObject.set(collateral, { root: root.fingerprint, verified })
    return verified
  }

  /**
   * The PCK chain `ders` (leaf first) verified up to `root` at `now`: from this cache when exactly
   * these certificates were verified to this root before and `now` is inside the window in which
   * all of them are valid, else verified here (and remembered).
   *
   * @throws {@link VerificationError} as {@link verifyPckChain} does.
   */
  pckChain(ders: readonly Uint8Array[], root: CollateralCertificate, now: Date): VerifiedPckChain {
    // The root's DER is part of the key: a chain verified to one root says nothing about another.
    return this.#chain([root.der, ...ders], () => ders, root, now)
  }

  /**
   * The PCK chain a quote embeds (certification data type 5), verified as {@link pckChain} does,
   * but found by the exact bytes of the embedded PEM text, which decode to exactly one chain: a
   * warm look-up neither copies nor compares the certificates.
   */
  embeddedPckChain(
    certification: PckCertChainData,
    root: CollateralCertificate,
    now: Date,
  ): VerifiedPckChain {
    return this.#chain(
      [root.der, PEM_TEXT, certification.data],
      // Decoded here from the very bytes of the key, not taken from `certification.certificates`:
      // what is remembered for these bytes is the verification of what they hold.
      () => parsePckCertChainPem(certification.data).map((c) => c.der),
      root,
      now,
    )
  }

  #chain(
    key: readonly Uint8Array[],
    ders: () => readonly Uint8Array[],
    root: CollateralCertificate,
    now: Date,
  ): VerifiedPckChain {
    const known = this.#chains.get(key, now)
    if (known !== undefined) return known
    const chain = verifyPckChain(ders(), root, now)
    this.#chains.set(key, chain, chain)
    return chain
  }

  /**
   * Run `check` (the revocation checks) for verified collateral and a verified PCK chain, once per
   * pair of these very objects: its outcome depends on nothing else. A check that throws is not
   * remembered.
   */
  checkPair(collateral: VerifiedCollateral, pck: VerifiedPckChain, check: () => void): void {
    let checked = this.#checkedPairs.get(collateral)
    if (checked?.has(pck) === true) return
    check()
    if (checked === undefined) {
      checked = new WeakSet()
      this.#checkedPairs.set(collateral, checked)
    }
    checked.add(pck)
  }

  /**
   * The TCB evaluation of `quote` against `collateral` with the PCK chain `pck`, from this cache
   * when the same verified collateral and chain (the very objects this cache handed out) were
   * evaluated with the same bytes of every field the evaluation reads: TEE_TCB_SVN to
   * SEAMATTRIBUTES of a TD report, and the whole QE report. Otherwise `evaluate` runs, and its
   * result is remembered, frozen (it is shared by every quote that finds it).
   */
  tcbEvaluation(
    collateral: VerifiedCollateral,
    pck: VerifiedPckChain,
    quote: DcapQuote,
    evaluate: () => TcbEvaluation,
  ): TcbEvaluation {
    let byChain = this.#evaluations.get(collateral)
    if (byChain === undefined) {
      byChain = new WeakMap()
      this.#evaluations.set(collateral, byChain)
    }
    let known = byChain.get(pck)
    if (known === undefined) {
      known = new ExactBytesCache(64)
      byChain.set(pck, known)
    }
    // Compared byte for byte, not turned into a string key: a warm look-up allocates nothing.
    const tdTcb = quote.body.kind === 'sgx' ? NO_BYTES : quote.rawBody.subarray(0, 0x78)
    const key = [BODY_KIND_BYTES[quote.body.kind], tdTcb, quote.signatureData.qeReport.raw]
    const cached = known.get(key)
    if (cached !== undefined) return cached
    const evaluation = freezeEvaluation(evaluate())
    known.set(key, evaluation)
    return evaluation
  }

  /**
   * The P-256 public key for raw x ‖ y bytes.
   *
   * @throws {@link VerificationError} `ERR_TDX_ATTESTATION_KEY_INVALID` when the bytes are not a
   *   point on P-256 (OpenSSL's own error would otherwise escape uncoded: a QE report signed by a
   *   PCK key can bind any 64 bytes).
   */
  attestationKey(raw: Uint8Array): KeyObject {
    return this.#keys.getOrSet(byteKey(raw), () => {
      try {
        return createPublicKey({
          key: {
            kty: 'EC',
            crv: 'P-256',
            x: bytesToBase64url(raw.subarray(0, 32)),
            y: bytesToBase64url(raw.subarray(32, 64)),
          },
          format: 'jwk',
        })
      } catch (cause) {
        throw new VerificationError(
          'ERR_TDX_ATTESTATION_KEY_INVALID',
          `the quote's attestation key (${raw.length} bytes) is not a point on P-256`,
          {
            cause,
            hint: 'the quote was not produced by a conforming quoting enclave: its attestation key must be an ECDSA P-256 public key (x ‖ y)',
          },
        )
      }
    })
  }
}
