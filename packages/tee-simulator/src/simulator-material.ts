/**
 * The TEE simulator's world: one simulated AMD SEV-SNP chip and one simulated Intel TDX platform,
 * each under its own synthetic vendor PKI, with exactly what evidence and its verification need.
 *
 * ```text
 * SEV-SNP (Milan)                              TDX
 * ARK-Milan  RSA-4096, RSASSA-PSS SHA-384      Intel SGX Root CA  ECDSA P-256
 *  └─ SEV-Milan (ASK)                           ├─ Intel SGX PCK Platform CA → PCK certificate
 *      └─ SEV-VCEK  P-384, hwID = chip id,      └─ Intel SGX TCB Signing → TCB info v3 (TDX),
 *                   SPLs = the reported TCB                                TD_QE identity
 * + the VCEK CRL (signed by the ARK, empty)    + Root CA CRL and PCK Platform CA CRL (empty)
 * ```
 *
 * **Why Milan.** Every default of the SNP report builder for Milan comes from a real Milan v3
 * report (firmware, CPUID, platform info, TCB), whereas the Genoa profile's stepping and firmware
 * build are assumptions; Milan is also the generation most SNP guests in the clouds run on. The
 * reports are version 3, as Milan firmware writes them, which Trustee's verifier requires (v3–v5).
 *
 * **Validity.** Everything starts one day before `now` (clock skew between the machine that made
 * the simulator and the one verifying). The CAs live 25 years (AMD's ARKs do), the VCEK and PCK 7
 * years (as AMD and Intel issue them), and the collateral (TCB info, QE identity, Intel's two CRLs,
 * AMD's VCEK CRL) is issued for the same 7 years: the simulator is usable, collateral included, for as long as its
 * leaf certificates, without regeneration and without keeping any CA key. Intel's own collateral
 * is reissued every 30 days; nothing in a verifier depends on the window being short.
 *
 * **What is kept.** Only the three private keys evidence needs: the VCEK (signs SNP reports), the
 * PCK key (signs the quoting enclave's report) and the QE attestation key (signs quotes; real QEs
 * keep theirs too). The CA keys are dropped once everything is signed, so nobody holding the
 * directory can issue another chip or platform under the same roots.
 *
 * Pure: `now` and the RSA keys come in; randomness only from `node:crypto` (key generation, the
 * chip id unless given, ECDSA signing).
 *
 * @module
 */
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { UsageError } from '@initguard/core'
import { amdName, createAmdTestPki } from './amd-pki.ts'
import { buildX509Crl } from './crl-builder.ts'
import type { AmdProduct, SnpTcbParts, TestKeyPair } from './amd-pki-types.ts'
import { buildDcapCollateral } from './dcap-collateral-builder.ts'
import { createIntelTestPki } from './intel-pki.ts'
import { defaultSnpTcb } from './snp-report-builder.ts'

/** The AMD product line the simulator's SEV-SNP chip is (see the module comment for why). */
export const SIMULATOR_SNP_PRODUCT: AmdProduct = 'Milan'

/** RSA modulus of the simulated ARK and ASK: AMD's are RSA-4096. */
export const SIMULATOR_AMD_RSA_BITS = 4096

/** The simulated SEV-SNP chip: its identity, its VCEK and the chain above it. */
export interface SimulatorSnpMaterial {
  /** The product line (Milan). */
  readonly product: AmdProduct
  /** CHIP_ID, 64 bytes; the VCEK's hwID. */
  readonly chipId: Uint8Array
  /** The TCB the VCEK is derived at: every report's CURRENT/REPORTED/COMMITTED/LAUNCH_TCB. */
  readonly reportedTcb: SnpTcbParts
  /** `ARK-Milan`, PEM. */
  readonly arkPem: string
  /** `SEV-Milan` (the ASK), PEM. */
  readonly askPem: string
  /** `SEV-VCEK`, PEM. */
  readonly vcekPem: string
  /** The VCEK's ECDSA P-384 private key. */
  readonly vcekPrivateKey: KeyObject
  /**
   * The product's VCEK CRL (DER), signed by the ARK as AMD signs `/vcek/v1/{product}/crl`: what a
   * relying party that checks revocation checks the simulator's chain against. Empty unless the
   * simulator was made with `revoked`.
   */
  readonly crl: Uint8Array
}

/** The simulated TDX platform: its PCK chain, the QE's keys and the collateral that rates it. */
export interface SimulatorTdxMaterial {
  /** `Intel SGX Root CA` (the simulator's), PEM. */
  readonly rootPem: string
  /** PCK ‖ PCK Platform CA ‖ root, PEM: the certification data every quote carries. */
  readonly pckChainPem: string
  /** The PCK's ECDSA P-256 private key: signs the QE report. */
  readonly pckPrivateKey: KeyObject
  /** The QE attestation key (ECDSA P-256): signs quotes. */
  readonly attestationKey: TestKeyPair
  /**
   * The collateral in Initguard's combined JSON form (what `--collateral FILE` reads): TDX TCB
   * info v3, TD_QE identity, Root CA CRL, PCK Platform CA CRL and their issuer chains.
   */
  readonly collateralJson: string
}

/** Everything a simulator holds. */
export interface SimulatorMaterial {
  /** When it was made (whole seconds). */
  readonly created: Date
  readonly snp: SimulatorSnpMaterial
  readonly tdx: SimulatorTdxMaterial
}

/** Options for {@link createSimulatorMaterial}. */
export interface SimulatorMaterialOptions {
  /** The time of creation; validity windows start one day before it. */
  readonly now: Date
  /** The simulated chip id (64 bytes). Default: 64 random bytes. */
  readonly chipId?: Uint8Array
  /**
   * The ARK and ASK key pairs (RSA). Default: RSA-4096 pairs generated here, synchronously; the
   * directory layer generates them in parallel off the main thread instead.
   */
  readonly amdKeys?: { readonly ark: TestKeyPair; readonly ask: TestKeyPair }
  /**
   * Certificates the simulator's CRL lists as revoked: a simulator whose own ASK or VCEK is
   * revoked, for showing that a relying party refuses it. Default none.
   */
  readonly revoked?: readonly SimulatorRevocable[]
}

/** What a simulator's CRL can revoke. */
export type SimulatorRevocable = 'ask' | 'vcek'

/** The serial number of a test certificate, as a CRL entry names it. */
function serialOf(certificate: { readonly x509: { readonly serialNumber: string } }): bigint {
  return BigInt(`0x${certificate.x509.serialNumber}`)
}

const DAY_MS = 24 * 60 * 60 * 1000

function yearsAfter(date: Date, years: number): Date {
  const out = new Date(date.getTime())
  out.setUTCFullYear(out.getUTCFullYear() + years)
  return out
}

/**
 * Make a new simulator's material: both PKIs, the VCEK and PCK, the QE attestation key, and
 * collateral that rates the platform UpToDate for the PCK's whole lifetime.
 *
 * @example
 * ```ts
 * const material = createSimulatorMaterial({ now: new Date() })
 * simulateSnpEvidence(material.snp, { initdata, reportData })
 * ```
 *
 * @throws {@link UsageError} `ERR_SIM_CHIP_ID_INVALID` for a chip id that is not 64 bytes or is
 *   all zero (a masked chip id cannot name a VCEK); `ERR_SIM_TIME_INVALID` for an invalid `now`.
 */
export function createSimulatorMaterial(options: SimulatorMaterialOptions): SimulatorMaterial {
  if (Number.isNaN(options.now.getTime())) {
    throw new UsageError('ERR_SIM_TIME_INVALID', 'the creation time is not a valid date')
  }
  const chipId = options.chipId ?? new Uint8Array(randomBytes(64))
  if (chipId.length !== 64 || chipId.every((b) => b === 0)) {
    throw new UsageError(
      'ERR_SIM_CHIP_ID_INVALID',
      `the simulated chip id must be 64 bytes and not all zero (got ${chipId.length} bytes)`,
      { details: { length: chipId.length } },
    )
  }
  const created = new Date(Math.floor(options.now.getTime() / 1000) * 1000)
  const notBefore = new Date(created.getTime() - DAY_MS)
  const caNotAfter = yearsAfter(notBefore, 25)
  const leafNotAfter = yearsAfter(notBefore, 7)

  const product = SIMULATOR_SNP_PRODUCT
  const rsa = (): TestKeyPair =>
    generateKeyPairSync('rsa', { modulusLength: SIMULATOR_AMD_RSA_BITS })
  const amd = createAmdTestPki({
    product,
    notBefore,
    notAfter: caNotAfter,
    keys: options.amdKeys ?? { ark: rsa(), ask: rsa() },
  })
  const reportedTcb = defaultSnpTcb(product)
  const vcek = amd.issueVcek({
    chipId,
    tcb: reportedTcb,
    notBefore,
    notAfter: leafNotAfter,
  })

  const revoked = options.revoked ?? []
  const crl = buildX509Crl(
    {
      issuer: amdName(`ARK-${product}`),
      thisUpdate: notBefore,
      nextUpdate: leafNotAfter,
      revoked: [
        ...(revoked.includes('ask') ? [serialOf(amd.ask)] : []),
        ...(revoked.includes('vcek') ? [serialOf(vcek)] : []),
      ].map((serialNumber) => ({ serialNumber, revocationDate: notBefore })),
      signatureAlgorithm: 'rsassa-pss-sha384',
    },
    amd.ark.privateKey,
  )

  const intel = createIntelTestPki({ notBefore, notAfter: caNotAfter })
  const pck = intel.issuePck({ ca: 'platform', notBefore, notAfter: leafNotAfter })
  const attestationPrivateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  const collateralJson = buildDcapCollateral({
    pki: intel,
    tee: 'tdx',
    ca: 'platform',
    issueDate: notBefore,
    nextUpdate: leafNotAfter,
  })

  return {
    created,
    snp: {
      product,
      chipId: chipId.slice(),
      reportedTcb,
      arkPem: amd.ark.pem,
      askPem: amd.ask.pem,
      vcekPem: vcek.pem,
      vcekPrivateKey: vcek.privateKey,
      crl,
    },
    tdx: {
      rootPem: intel.root.pem,
      pckChainPem: pck.chainPem,
      pckPrivateKey: pck.privateKey,
      attestationKey: {
        privateKey: attestationPrivateKey,
        publicKey: createPublicKey(attestationPrivateKey),
      },
      collateralJson,
    },
  }
}
