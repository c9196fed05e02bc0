/**
 * Where a quote's collateral and root come from: the simulator's (when its root is trusted and the
 * quote's PCK chain ends at it), a collateral file with the quote's TEE and FMSPC, or Intel PCS /
 * a PCCS. Fetched collateral is kept parsed (bounded LRU) until the first `nextUpdate` of its four
 * documents (TCB info, QE identity, PCK CRL, Root CA CRL) or an hour, whichever is first, so warm
 * verifications reuse it, and none is answered from memory after a part of it went stale (which
 * would fail every quote of the FMSPC until the hour is up, however current PCS is).
 *
 * @module
 */
import { createHash } from 'node:crypto'
import {
  LruCache,
  MalformedInputError,
  UnavailableError,
  VerificationError,
  bytesToHex,
} from '@initguard/core'
import type { IntelPcsClient } from '@initguard/collateral'
import { certificateSha256, type SimulatorTrust } from '@initguard/tee-simulator'
import {
  INTEL_SGX_ROOT_CA_PEM,
  INTEL_SGX_ROOT_CA_SHA256,
  collateralFromPcs,
  parseCollateralCertificate,
  verifyPckChain,
  parsePckCertificate,
  parseQeIdentity,
  parseTcbInfo,
  parseX509Crl,
  type DcapCollateral,
  type DcapQuote,
} from '@initguard/tdx'
import type { DcapTrust } from './verified-evidence.ts'

/** The collateral and root a quote is verified with. */
export interface SelectedCollateral {
  readonly collateral: DcapCollateral
  /** PEM; `undefined` = Intel's pinned root. */
  readonly root: string | undefined
  readonly simulated: boolean
}

const FETCHED_LIFETIME_MS = 60 * 60 * 1000

/**
 * Fetch and parse a quote's collateral from PCS or a PCCS.
 *
 * @throws `ERR_PCS_…` (UnavailableError) when it cannot be fetched.
 */
export async function fetchDcapCollateral(
  client: IntelPcsClient,
  request: {
    readonly tee: 'tdx' | 'sgx'
    readonly fmspc: string
    readonly ca: 'platform' | 'processor'
  },
): Promise<DcapCollateral> {
  const raw = await client.collateral(request)
  return collateralFromPcs({
    tcbInfo: { body: raw.tcbInfoBody, issuerChain: raw.tcbInfoIssuerChain },
    qeIdentity: { body: raw.qeIdentityBody, issuerChain: raw.qeIdentityIssuerChain },
    pckCrl: { body: raw.pckCrl, issuerChain: raw.pckCrlIssuerChain },
    rootCaCrl: raw.rootCaCrl,
  })
}

/** When the first of the collateral's four documents is due for update (ms). */
function firstDue(collateral: DcapCollateral): number {
  return Math.min(
    parseTcbInfo(collateral.tcbInfo).nextUpdate.getTime(),
    parseQeIdentity(collateral.qeIdentity).nextUpdate.getTime(),
    parseX509Crl(collateral.pckCrl, 'PCK CRL').nextUpdate.getTime(),
    parseX509Crl(collateral.rootCaCrl, 'Root CA CRL').nextUpdate.getTime(),
  )
}

/** Picks (and fetches) collateral per quote. */
export class DcapCollateralSource {
  readonly #trust: DcapTrust | undefined
  readonly #simulator: SimulatorTrust | undefined
  readonly #simulatorRoot: string | undefined
  readonly #vendorRoot: string
  readonly #files = new Map<string, DcapCollateral>()
  readonly #fetched = new LruCache<string, DcapCollateral>(64)

  constructor(trust: DcapTrust | undefined, simulator: SimulatorTrust | undefined) {
    this.#trust = trust
    this.#simulator = simulator
    this.#simulatorRoot =
      simulator === undefined ? undefined : certificateSha256(simulator.intelRoot)
    this.#vendorRoot =
      trust?.root === undefined ? INTEL_SGX_ROOT_CA_SHA256 : certificateSha256(trust.root)
    for (const collateral of trust?.collateral ?? []) {
      const info = parseTcbInfo(collateral.tcbInfo)
      const key = `${info.id.toLowerCase()}:${info.fmspc}`
      if (!this.#files.has(key)) this.#files.set(key, collateral)
    }
  }

  /**
   * The collateral for `quote` at `now`.
   *
   * @throws {@link MalformedInputError} `ERR_KBS_EVIDENCE_NO_PCK` when the quote does not carry its
   *   PCK chain; {@link UnavailableError} `ERR_KBS_COLLATERAL_MISSING` when no source has it.
   */
  async select(quote: DcapQuote, tee: 'tdx' | 'sgx', now: Date): Promise<SelectedCollateral> {
    const certification = quote.signatureData.pckCertification
    if (certification.kind !== 'pck-cert-chain' || certification.certificates.length === 0) {
      throw new MalformedInputError(
        'ERR_KBS_EVIDENCE_NO_PCK',
        'the quote does not carry its PCK certificate chain (certification data type 5)',
        { hint: 'configure the guest to put the PCK chain in the quote (as Trustee requires)' },
      )
    }
    const chain = certification.certificates
    const last = chain[chain.length - 1]
    const rootFingerprint =
      last === undefined ? '' : createHash('sha256').update(last.der).digest('hex')
    if (this.#simulator !== undefined && rootFingerprint === this.#simulatorRoot) {
      return {
        collateral: this.#simulator.collateral,
        root: this.#simulator.intelRoot,
        simulated: true,
      }
    }
    // A chain that carries its root (leaf, CA, root) and ends elsewhere is refused before any
    // collateral is looked up or fetched; verifyDcapQuote checks the whole chain afterwards.
    if (chain.length >= 3 && rootFingerprint !== this.#vendorRoot) {
      throw new VerificationError(
        'ERR_TDX_PCK_ROOT_UNTRUSTED',
        `the quote's PCK chain ends at a root (SHA-256 ${rootFingerprint}) that is not trusted`,
        {
          details: { chainRoot: rootFingerprint, trustedRoot: this.#vendorRoot },
          hint: "only Intel's SGX Root CA (or the configured root) is trusted; simulator evidence needs --trust-sim",
        },
      )
    }
    const root = this.#trust?.root
    const leaf = chain[0]
    const pck = parsePckCertificate(leaf?.der ?? new Uint8Array())
    const fmspc = bytesToHex(pck.sgx.fmspc)
    const fromFile = this.#files.get(`${tee}:${fmspc}`)
    if (fromFile !== undefined) return { collateral: fromFile, root, simulated: false }
    const pcs = this.#trust?.pcs
    if (pcs === undefined) {
      throw new UnavailableError(
        'ERR_KBS_COLLATERAL_MISSING',
        `no collateral for ${tee.toUpperCase()} FMSPC ${fmspc}: no collateral file has it and Intel PCS is not used`,
        {
          details: { tee, fmspc },
          hint: 'give its collateral (--collateral FILE) or let the KBS fetch it from Intel PCS or a PCCS',
        },
      )
    }
    const ca = pck.issuerCa === 'processor' ? 'processor' : 'platform'
    const key = `${tee}:${fmspc}:${ca}`
    let collateral = this.#fetched.get(key, now)
    if (collateral === undefined) {
      // The FMSPC comes from the leaf: fetch only for a chain that verifies to the trusted root,
      // so a forged leaf cannot make the KBS query Intel for whatever FMSPC it names.
      verifyPckChain(
        chain.map((certificate) => certificate.der),
        parseCollateralCertificate(root ?? INTEL_SGX_ROOT_CA_PEM, 'the trusted Intel root'),
        now,
      )
      collateral = await fetchDcapCollateral(pcs, { tee, fmspc, ca })
      this.#fetched.set(key, collateral, {
        validFrom: now,
        validUntil: new Date(Math.min(now.getTime() + FETCHED_LIFETIME_MS, firstDue(collateral))),
      })
    }
    return { collateral, root, simulated: false }
  }
}
