/**
 * AMD's certificate revocation lists for the KBS: every SEV-SNP chain is checked against the CRL of
 * its product line and hierarchy (KDS `/vcek/v1/{product}/crl` for ASK → VCEK chains,
 * `/vlek/v1/{product}/crl` for ASVK → VLEK chains), fail closed: a chain whose CRL cannot be had,
 * is not signed by the trusted ARK or is not current is refused, never let through unchecked.
 *
 * Where a CRL comes from, by the chain's root:
 *
 * - AMD's ARK (or the configured anchors): the operator's CRL files when any are configured
 *   (`--amd-crl KIND/PRODUCT=FILE`, air-gapped; KDS is then never asked), else AMD KDS through the
 *   collateral client and its disk cache;
 * - the simulator's ARK (`--trust-sim`): the simulator's own CRL, signed by its ARK.
 *
 * A CRL is parsed and its signature checked once, then kept in memory (bounded) until its
 * nextUpdate or {@link CRL_MEMORY_MS}, whichever is first, so checking a chain costs a map look-up
 * and two `Set` look-ups. A CRL that cannot be had, or is not current, is remembered as such for
 * {@link CRL_FAILURE_MEMORY_MS}: a guest retrying does not make the KBS ask KDS (which throttles)
 * or re-verify the same stale CRL once per `/attest`.
 *
 * @module
 */
import { LruCache, UnavailableError } from '@initguard/core'
import type { AmdKdsClient } from '@initguard/collateral'
import { readInput } from '@initguard/files'
import {
  checkAmdCrlCurrent,
  checkAmdRevocation,
  trustedArk,
  verifyAmdRevocationList,
  type AmdRevocationList,
  type AmdRevocationSubject,
  type SnpTrustAnchors,
} from '@initguard/snp'

/** The hierarchy and product line a CRL is for, as `--amd-crl` names it: `vcek/Milan`. */
export type AmdCrlKey = `${'vcek' | 'vlek'}/${'Milan' | 'Genoa' | 'Turin'}`

/** Every {@link AmdCrlKey}, in the order KDS documents them. */
export const AMD_CRL_KEYS: readonly AmdCrlKey[] = [
  'vcek/Milan',
  'vcek/Genoa',
  'vcek/Turin',
  'vlek/Milan',
  'vlek/Genoa',
  'vlek/Turin',
]

/**
 * The longest a CRL is used from memory: as long as the KDS client uses a cached CRL online, so
 * a revocation AMD publishes before the CRL's nextUpdate reaches the KBS within this bound.
 */
export const CRL_MEMORY_MS: number = 12 * 60 * 60 * 1000

/** How long a CRL that could not be had (or was not current) is answered from memory. */
export const CRL_FAILURE_MEMORY_MS: number = 30 * 1000

/** The largest CRL file read (AMD's are a few KiB). */
export const MAX_CRL_FILE_BYTES: number = 1024 * 1024

/** Where the KBS's SEV-SNP CRLs come from. */
export interface SnpRevocationSources {
  /** AMD KDS (with its disk cache): the source for AMD chains when no files are configured. */
  readonly kds?: AmdKdsClient | undefined
  /**
   * CRL files by hierarchy and product (`--amd-crl`), read instead of fetching. When any is given,
   * KDS is never asked: a chain whose CRL has no file is refused (503).
   */
  readonly files?: Readonly<Partial<Record<AmdCrlKey, string>>> | undefined
  /** The simulator's CRL (DER), for chains that end at its ARK. */
  readonly simulatorCrl?: Uint8Array | undefined
}

/** A chain to check: what the verifier returned, the anchors it ended at, and whether simulated. */
export interface RevocationCheck {
  readonly subject: AmdRevocationSubject
  readonly anchors: SnpTrustAnchors
  readonly simulated: boolean
}

function missing(key: AmdCrlKey, why: string, hint: string): UnavailableError {
  return new UnavailableError('ERR_KBS_SNP_CRL_MISSING', `no AMD CRL for ${key} chains: ${why}`, {
    details: { crl: key },
    hint,
  })
}

/** Checks SEV-SNP chains against AMD's CRLs (see the module comment). */
export class SnpRevocation {
  readonly #sources: SnpRevocationSources
  readonly #files: boolean
  /** Verified lists by ARK, hierarchy and product, each inside its window. */
  readonly #lists = new LruCache<string, AmdRevocationList>(32)
  /** Recent failures to get a current list, by the same key. */
  readonly #failures = new LruCache<string, Error>(32)
  /** Loads under way: concurrent guests of a cold KBS share one fetch and one verification. */
  readonly #loading = new Map<string, Promise<AmdRevocationList>>()

  constructor(sources: SnpRevocationSources) {
    this.#sources = sources
    this.#files = sources.files !== undefined && Object.keys(sources.files).length > 0
  }

  /**
   * Refuse a chain AMD revoked (or whose CRL cannot be had or is not current).
   *
   * @throws {@link VerificationError} `ERR_SNP_CERT_REVOKED`, `ERR_SNP_CRL_STALE`,
   *   `ERR_SNP_CRL_SIGNATURE`, `ERR_SNP_CERT_ROLE` (the ARK's keyUsage lacks cRLSign),
   *   `ERR_SNP_CRL_ISSUER` (another issuer name or key identifier than the ARK's),
   *   `ERR_SNP_CRL_MISMATCH` (an Issuing Distribution Point for another list, or narrowing it);
   *   {@link UnavailableError} `ERR_KBS_SNP_CRL_MISSING` and the KDS
   *   client's `ERR_KDS_…` (503); the CRL parser's `MalformedInputError`s.
   */
  async check(chain: RevocationCheck, now: Date): Promise<void> {
    const { subject } = chain
    const key = `${subject.arkFingerprint}:${subject.kind}/${subject.product}`
    const list = this.#lists.get(key, now) ?? (await this.#listFor(key, chain, now))
    checkAmdRevocation(list, subject, now)
  }

  #listFor(key: string, chain: RevocationCheck, now: Date): Promise<AmdRevocationList> {
    const failure = this.#failures.get(key, now)
    // The error of the attempt a moment ago, as it was: the guest retries later.
    if (failure !== undefined) return Promise.reject(failure)
    const underWay = this.#loading.get(key)
    if (underWay !== undefined) return underWay
    const loading = this.#load(chain, now)
      .then((list) => {
        const until = Math.min(list.nextUpdate.getTime(), now.getTime() + CRL_MEMORY_MS)
        this.#lists.set(key, list, { validFrom: list.thisUpdate, validUntil: new Date(until) })
        return list
      })
      .catch((error: unknown) => {
        if (error instanceof Error) {
          this.#failures.set(key, error, {
            validFrom: now,
            validUntil: new Date(now.getTime() + CRL_FAILURE_MEMORY_MS),
          })
        }
        throw error
      })
      .finally(() => this.#loading.delete(key))
    this.#loading.set(key, loading)
    return loading
  }

  /** A verified list current at `now` for the chain's ARK, hierarchy and product. */
  async #load(chain: RevocationCheck, now: Date): Promise<AmdRevocationList> {
    const { subject, anchors } = chain
    const ark = trustedArk(anchors, subject.product)
    const verify = (der: Uint8Array): AmdRevocationList =>
      verifyAmdRevocationList(der, ark, subject.product, subject.kind)
    const key: AmdCrlKey = `${subject.kind}/${subject.product}`
    let list = verify(await this.#fetch(key, chain))
    const kds = this.#sources.kds
    if (!chain.simulated && !this.#files && kds !== undefined && now > list.nextUpdate) {
      // The disk cache answers a young copy without asking KDS; past its nextUpdate it is no use,
      // so ask KDS for the current one before refusing.
      list = verify(await kds.crl(subject.product, subject.kind, { refresh: true }))
    }
    checkAmdCrlCurrent(list, now)
    return list
  }

  async #fetch(key: AmdCrlKey, chain: RevocationCheck): Promise<Uint8Array> {
    const { subject } = chain
    if (chain.simulated) {
      const crl = this.#sources.simulatorCrl
      if (crl === undefined || subject.kind !== 'vcek') {
        throw missing(
          key,
          'the simulator provides only its VCEK CRL',
          'make the simulator with `initguard sim init` (version 2 directories carry their CRL)',
        )
      }
      return crl
    }
    if (this.#files) {
      const file = this.#sources.files?.[key]
      if (file === undefined) {
        throw missing(
          key,
          'CRL files are configured (--amd-crl), and none is for this hierarchy and product',
          `give it with --amd-crl ${key}=FILE (AMD KDS /${subject.kind}/v1/${subject.product}/crl)`,
        )
      }
      return readInput(file, { what: `AMD CRL (${key})`, maxSize: MAX_CRL_FILE_BYTES })
    }
    const kds = this.#sources.kds
    if (kds === undefined) {
      throw missing(
        key,
        'AMD KDS is not used and no CRL file is configured',
        `give it with --amd-crl ${key}=FILE, or let the KBS fetch it from AMD KDS`,
      )
    }
    return kds.crl(subject.product, subject.kind)
  }
}
