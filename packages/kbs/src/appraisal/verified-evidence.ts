/**
 * What evidence verification establishes, and the trust it is established under.
 *
 * @module
 */
import type { AmdKdsClient, IntelPcsClient } from '@initguard/collateral'
import type { TrustAnchorInfo } from '@initguard/core'
import type { KbsTee } from '@initguard/kbs-protocol'
import type {
  SnpFirmwareVersion,
  SnpGuestPolicy,
  SnpPlatformInfo,
  SnpTrustAnchors,
  TcbComponents,
} from '@initguard/snp'
import type { SimulatorTrust } from '@initguard/tee-simulator'
import type { DcapCollateral, TcbStatus } from '@initguard/tdx'
import type { AmdCrlKey } from './snp-revocation.ts'

/** SEV-SNP trust: AMD's roots (pinned by default) and where VCEKs come from. */
export interface SnpTrust {
  /** Default AMD's production ARK/ASK/ASVK. */
  readonly anchors?: SnpTrustAnchors
  /** VCEK/VLEK (and ASK/ARK) certificates the operator keeps locally (DER or PEM). */
  readonly certificates?: readonly (Uint8Array | string)[]
  /**
   * Fetches a VCEK from AMD KDS (cached on disk) when the evidence does not carry it, and the
   * product's CRL unless `crlFiles` are given.
   */
  readonly kds?: AmdKdsClient
  /**
   * AMD CRL files by hierarchy and product (`--amd-crl vcek/Milan=FILE`), read instead of fetching
   * CRLs from KDS (air-gapped). Every SEV-SNP chain is checked against its CRL either way.
   */
  readonly crlFiles?: Readonly<Partial<Record<AmdCrlKey, string>>>
}

/** TDX/SGX trust: Intel's root (pinned by default) and where collateral comes from. */
export interface DcapTrust {
  /** PEM; default Intel's SGX Root CA. */
  readonly root?: string
  /** Collateral files (parsed), picked per quote by TEE and FMSPC. */
  readonly collateral?: readonly DcapCollateral[]
  /** Fetches collateral from Intel PCS or a PCCS (cached) when no file has the quote's FMSPC. */
  readonly pcs?: IntelPcsClient
}

/**
 * Everything evidence may chain to. The vendors' roots are pinned; the simulator's roots count only
 * when `simulator` is given (`--trust-sim DIR`), and evidence that chains to them is marked
 * `simulated`.
 */
export interface EvidenceTrust {
  readonly snp?: SnpTrust
  readonly dcap?: DcapTrust
  readonly simulator?: SimulatorTrust
}

/** What every verified evidence establishes. */
interface VerifiedEvidenceBase {
  /** True when the chain ended at the simulator's root. */
  readonly simulated: boolean
  /** REPORT_DATA / REPORTDATA, 64 bytes. */
  readonly reportData: Uint8Array
  /** HOST_DATA (32) / MRCONFIGID (48) / CONFIGID (64): where the init-data digest is. */
  readonly initDataField: Uint8Array
  /** The field's name as the vendor spells it. */
  readonly initDataFieldName: 'HOST_DATA' | 'MRCONFIGID' | 'CONFIGID'
  /** The verifier's claims under Trustee's names for this TEE (without `init_data`/`report_data`). */
  readonly claims: Readonly<Record<string, unknown>>
  /** The root the chain ended at. */
  readonly anchor: TrustAnchorInfo
  readonly warnings: readonly string[]
}

/** Verified SEV-SNP evidence. */
export interface VerifiedSnpEvidence extends VerifiedEvidenceBase {
  readonly tee: 'snp'
  readonly measurement: Uint8Array
  readonly reportedTcb: TcbComponents
  /** LAUNCH_TCB: the TCB of the firmware that launched (or imported) the guest. */
  readonly launchTcb: TcbComponents
  /**
   * How the running firmware differs from the committed one (`provisionalFirmwareDifferences`):
   * empty when CURRENT_TCB and the firmware version equal COMMITTED_TCB and the committed version.
   */
  readonly provisionalFirmware: readonly string[]
  /** The running firmware version: CURRENT_MAJOR, CURRENT_MINOR, CURRENT_BUILD. */
  readonly firmware: SnpFirmwareVersion
  /** GUEST_POLICY, decoded. */
  readonly guestPolicy: SnpGuestPolicy
  /** PLATFORM_INFO, decoded. */
  readonly platformInfo: SnpPlatformInfo
  /** POLICY.DEBUG. */
  readonly debug: boolean
  /** POLICY.MIGRATE_MA. */
  readonly migration: boolean
  readonly vmpl: number
}

/** Verified TDX evidence. */
export interface VerifiedTdxEvidence extends VerifiedEvidenceBase {
  readonly tee: 'tdx'
  readonly mrTd: Uint8Array
  readonly rtmrs: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array]
  /** MRSERVICETD (TDX 1.5); all zero for a TDX 1.0 quote, which binds no service TD. */
  readonly mrServiceTd: Uint8Array
  readonly tcbStatus: TcbStatus
  /** Any bit of the TUD group of TDATTRIBUTES (bits 7:0: DEBUG and the profiling bits). */
  readonly debug: boolean
  /** TDATTRIBUTES.MIGRATABLE. */
  readonly migration: boolean
}

/** Verified SGX evidence. */
export interface VerifiedSgxEvidence extends VerifiedEvidenceBase {
  readonly tee: 'sgx'
  readonly mrEnclave: Uint8Array
  readonly mrSigner: Uint8Array
  readonly isvProdId: number
  readonly isvSvn: number
  readonly tcbStatus: TcbStatus
  /** ATTRIBUTES.DEBUG. */
  readonly debug: boolean
}

/** Verified evidence of any TEE. */
export type VerifiedEvidence = VerifiedSnpEvidence | VerifiedTdxEvidence | VerifiedSgxEvidence

/** Verifies Trustee-shaped primary evidence. */
export interface EvidenceVerifier {
  /**
   * Verify `primaryEvidence` (SNP: the `sev` crate's JSON; TDX/SGX: `{quote, cc_eventlog?}`) as
   * evidence of `tee` at `now`. Debug, migration and the accepted TCB statuses are left to the
   * workload; everything that makes evidence genuine is checked here.
   *
   * @throws `MalformedInputError` for evidence that does not parse, `VerificationError` when it is
   *   not genuine (including simulator evidence without simulator trust), `ExpectationError` for
   *   genuine evidence no workload could accept (a TCB status that needs recovery),
   *   `UnavailableError` when a VCEK, an AMD CRL or collateral is needed and cannot be had.
   */
  verify(tee: KbsTee, primaryEvidence: unknown, now: Date): Promise<VerifiedEvidence>
}
