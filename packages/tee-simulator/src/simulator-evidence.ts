/**
 * Evidence from the simulated guests, in the exact form a CoCo attester hands the KBS as
 * `tee-evidence.primary_evidence` (relying-party.md §2.1–§2.2, guest-side.md §2.2):
 *
 * ```text
 * SEV-SNP  {"attestation_report": {…the sev crate's serde form…},
 *           "cert_chain": [{"cert_type": "VCEK", "data": [DER]}, {"cert_type": "ASK", …}, {"cert_type": "ARK", …}]}
 * TDX      {"quote": "<base64 v4 quote>"}      (no "cc_eventlog": the simulator has no event log)
 * ```
 *
 * What the simulated guest reports:
 *
 * | field                   | SEV-SNP (report v3, VCEK-signed)          | TDX (quote v4, TD 1.0 body)          |
 * | ----------------------- | ----------------------------------------- | ------------------------------------ |
 * | init-data binding       | HOST_DATA = digest fitted to 32 bytes     | MRCONFIGID = digest fitted to 48     |
 * | report data             | REPORT_DATA = given bytes, zero-padded    | REPORTDATA = given bytes, zero-padded |
 * | launch measurement      | MEASUREMENT = {@link SIMULATOR_SNP_MEASUREMENT_HEX} | MRTD = {@link SIMULATOR_TDX_MRTD_HEX}, RTMR0–3 {@link SIMULATOR_TDX_RTMR_HEX} (zero) |
 * | debug (only `debug: true`) | POLICY bit 19 (DEBUG)                  | TDATTRIBUTES bit 0 (DEBUG)           |
 * | everything else         | VMPL 0, POLICY 0x30000, the chip id and TCB of the VCEK | Intel's TD_QE, UpToDate TCB |
 *
 * The digest is the document's own `algorithm` over its exact bytes, fitted as Trustee fits it
 * (cut or zero-padded; `@initguard/initdata` `bindingFor`). A launched guest's evidence takes the
 * field's raw value instead (`simulate…EvidenceWithField`); both paths build the same report.
 *
 * The cert chain carries the simulator's ASK and ARK as well as the VCEK, as a host's extended
 * report does: a verifier that pins AMD's ARK refuses it at once (the ARK is not AMD's), and one
 * given the simulator's ARK explicitly can build the whole chain from the evidence.
 *
 * Pure: the material and the request come in; randomness only from ECDSA signing.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto'
import { UsageError, bytesToBase64, hexToBytes } from '@initguard/core'
import { TEE_FIELDS, bindingFor, type InitdataDocument } from '@initguard/initdata'
import {
  CERT_TABLE_GUIDS,
  parseSnpReport,
  snpReportToTrusteeJson,
  type CertTableEntry,
  type KnownCertTableKind,
  type TrusteeSnpEvidenceJson,
} from '@initguard/snp/parsers'
import { buildTdxQuote } from './dcap-quote-builder.ts'
import { padReportData } from './report-data.ts'
import type { SimulatorSnpMaterial, SimulatorTdxMaterial } from './simulator-material.ts'
import { buildSnpReport, encodeTcbVersion } from './snp-report-builder.ts'

/**
 * The simulated SEV-SNP launch digest (MEASUREMENT, 48 bytes, hex): SHA-384 of the ASCII text
 * `initguard tee-simulator SEV-SNP launch measurement v1`. Fixed, so a workload can name it as
 * its reference value; no real guest has it.
 */
export const SIMULATOR_SNP_MEASUREMENT_HEX =
  '2d0d2d8abdae4bf0b4de0539a7db7ea7cc68caafd0fd85c06db7b7f062d1f1de4197cd00aea771467a555dbfabe3dc43'

/**
 * The simulated TDX build-time measurement (MRTD, 48 bytes, hex): SHA-384 of the ASCII text
 * `initguard tee-simulator TDX MRTD v1`. RTMR0–3 are zero (nothing was extended: there is no
 * event log).
 */
export const SIMULATOR_TDX_MRTD_HEX =
  'bfa263af2eb1ce11fb09c36a2583755d28764467ced4d9e9a9a432187d1b67fa329cb4d42b8ec87645890869d6f87381'

/**
 * Each simulated RTMR (RTMR0–3, 48 bytes, hex): zero, nothing was extended. A TDX workload pins
 * the kernel with RTMR1 and RTMR2, so one for simulated guests lists this value for both.
 */
export const SIMULATOR_TDX_RTMR_HEX: string = '00'.repeat(48)

/** What evidence to make: the initdata document it binds, the report data, the debug flag. */
export interface SimulatedEvidenceRequest {
  /** The document whose fitted digest goes into HOST_DATA / MRCONFIGID. */
  readonly initdata: InitdataDocument
  /** REPORT_DATA / REPORTDATA: at most 64 bytes, zero-padded to 64. */
  readonly reportData: Uint8Array
  /** Report a debuggable guest (SNP policy DEBUG, TD attribute DEBUG). Default false. */
  readonly debug?: boolean
  /** Report a migratable guest (SNP policy MIGRATE_MA, TD attribute MIGRATABLE). Default false. */
  readonly migratable?: boolean
}

/** Trustee's TDX evidence JSON (`TdxEvidence` in `deps/verifier/src/tdx`). */
export interface TrusteeTdxEvidenceJson {
  /** The CCEL event log, base64; absent when there is none (serde reads absent as `None`). */
  readonly cc_eventlog?: string
  /** The quote, standard base64. */
  readonly quote: string
}

const SNP_POLICY = 0x30000n
const SNP_POLICY_DEBUG = 1n << 19n
/** SEV-SNP guest policy bit 18: MIGRATE_MA (a migration agent may be associated). */
const SNP_POLICY_MIGRATE_MA = 1n << 18n
const TD_ATTRIBUTES = 0x10000000n
const TD_ATTRIBUTES_DEBUG = 1n
/** TDATTRIBUTES bit 29: MIGRATABLE. */
const TD_ATTRIBUTES_MIGRATABLE = 1n << 29n

function certEntry(kind: KnownCertTableKind, pem: string): CertTableEntry {
  return { kind, guid: CERT_TABLE_GUIDS[kind], data: new Uint8Array(new X509Certificate(pem).raw) }
}

/** What every report of one SNP material shares: its cert table and its encoded TCB. */
interface SnpMaterialParts {
  readonly certificates: readonly CertTableEntry[]
  readonly tcb: bigint
}

/**
 * Per material object, computed on its first evidence: parsing three PEM certificates cost more
 * than half the signature on every report. Keyed by the (readonly) material object itself, so
 * other material, even an edited copy, gets its own entry.
 */
const snpMaterialParts = new WeakMap<SimulatorSnpMaterial, SnpMaterialParts>()

function partsOf(snp: SimulatorSnpMaterial): SnpMaterialParts {
  let parts = snpMaterialParts.get(snp)
  if (parts === undefined) {
    parts = {
      certificates: [
        certEntry('vcek', snp.vcekPem),
        certEntry('ask', snp.askPem),
        certEntry('ark', snp.arkPem),
      ],
      tcb: encodeTcbVersion(snp.reportedTcb, snp.product),
    }
    snpMaterialParts.set(snp, parts)
  }
  return parts
}

/** The simulated launch digest as bytes (copied into every report, never handed out). */
const SNP_MEASUREMENT = hexToBytes(SIMULATOR_SNP_MEASUREMENT_HEX)

/**
 * What evidence to make for a guest whose init-time field was fixed at launch: the raw field value
 * instead of a document (a simulated guest's HOST_DATA / MRCONFIGID stays what it was launched
 * with, whatever document the guest is later given, as on hardware).
 */
export interface SimulatedFieldEvidenceRequest {
  /** HOST_DATA (SEV-SNP, exactly 32 bytes) or MRCONFIGID (TDX, exactly 48 bytes). */
  readonly initDataField: Uint8Array
  /** REPORT_DATA / REPORTDATA: at most 64 bytes, zero-padded to 64. */
  readonly reportData: Uint8Array
  /** Report a debuggable guest (SNP policy DEBUG, TD attribute DEBUG). Default false. */
  readonly debug?: boolean
  /** Report a migratable guest (SNP policy MIGRATE_MA, TD attribute MIGRATABLE). Default false. */
  readonly migratable?: boolean
}

/** The init-time field's length: HOST_DATA 32 bytes, MRCONFIGID 48 (`TEE_FIELDS`). */
export const SIMULATOR_INIT_DATA_FIELD_LENGTH: Readonly<Record<'snp' | 'tdx', number>> = {
  snp: TEE_FIELDS.snp.length,
  tdx: TEE_FIELDS.tdx.length,
}

/**
 * The field value, checked to be exactly the TEE's field length (never cut or padded here: a raw
 * value of another length is a caller's mistake, not a document to fit).
 *
 * @throws {@link UsageError} `ERR_SIM_INIT_DATA_FIELD_LENGTH`.
 */
function checkedField(tee: 'snp' | 'tdx', value: Uint8Array): Uint8Array {
  const length = SIMULATOR_INIT_DATA_FIELD_LENGTH[tee]
  if (value.length !== length) {
    throw new UsageError(
      'ERR_SIM_INIT_DATA_FIELD_LENGTH',
      `${TEE_FIELDS[tee].name} is ${length} bytes (got ${value.length})`,
      {
        details: { tee, length: value.length, expected: length },
        hint: 'fit a document digest with `bindingFor` first, or give the simulated evidence a document',
      },
    )
  }
  return value
}

/** A document's request as a raw-field request: its digest fitted as Trustee fits it. */
function fieldRequest(
  tee: 'snp' | 'tdx',
  request: SimulatedEvidenceRequest,
): SimulatedFieldEvidenceRequest {
  const { initdata, ...rest } = request
  return { ...rest, initDataField: bindingFor(tee, initdata.algorithm, initdata.digest).value }
}

/**
 * A signed SEV-SNP report (v3) from the simulated chip, as Trustee's SNP evidence JSON with the
 * VCEK, ASK and ARK in `cert_chain`.
 *
 * @example
 * ```ts
 * const evidence = simulateSnpEvidence(material.snp, { initdata, reportData: nonceDigest })
 * parseTrusteeSnpEvidence(evidence).report.hostData // the document's digest fitted to 32 bytes
 * ```
 *
 * @throws {@link UsageError} `ERR_SIM_REPORT_DATA_TOO_LONG`; the report builder's errors for
 *   material that is not a simulator's (a VCEK key that is not P-384).
 */
export function simulateSnpEvidence(
  snp: SimulatorSnpMaterial,
  request: SimulatedEvidenceRequest,
): TrusteeSnpEvidenceJson {
  return simulateSnpEvidenceWithField(snp, fieldRequest('snp', request))
}

/**
 * As {@link simulateSnpEvidence}, with HOST_DATA given as its raw 32 bytes (a launched guest's).
 *
 * @throws {@link UsageError} `ERR_SIM_INIT_DATA_FIELD_LENGTH` unless it is 32 bytes;
 *   `ERR_SIM_REPORT_DATA_TOO_LONG`.
 */
export function simulateSnpEvidenceWithField(
  snp: SimulatorSnpMaterial,
  request: SimulatedFieldEvidenceRequest,
): TrusteeSnpEvidenceJson {
  const { certificates, tcb } = partsOf(snp)
  const report = buildSnpReport(
    {
      product: snp.product,
      version: 3,
      policy:
        SNP_POLICY |
        (request.debug === true ? SNP_POLICY_DEBUG : 0n) |
        (request.migratable === true ? SNP_POLICY_MIGRATE_MA : 0n),
      vmpl: 0,
      reportData: padReportData(request.reportData),
      hostData: checkedField('snp', request.initDataField),
      measurement: SNP_MEASUREMENT,
      chipId: snp.chipId,
      currentTcb: tcb,
      reportedTcb: tcb,
      committedTcb: tcb,
      launchTcb: tcb,
    },
    snp.vcekPrivateKey,
  )
  return snpReportToTrusteeJson(parseSnpReport(report), {
    product: snp.product,
    certificates,
  })
}

/**
 * A TDX quote (v4) from the simulated platform, as Trustee's TDX evidence JSON (no event log).
 *
 * @example
 * ```ts
 * const evidence = simulateTdxEvidence(material.tdx, { initdata, reportData })
 * parseDcapQuote(base64ToBytes(evidence.quote)).body // MRCONFIGID = the fitted digest
 * ```
 *
 * @throws {@link UsageError} `ERR_SIM_REPORT_DATA_TOO_LONG`; the quote builder's errors for
 *   material that is not a simulator's (keys that are not P-256).
 */
export function simulateTdxEvidence(
  tdx: SimulatorTdxMaterial,
  request: SimulatedEvidenceRequest,
): TrusteeTdxEvidenceJson {
  return simulateTdxEvidenceWithField(tdx, fieldRequest('tdx', request))
}

/**
 * As {@link simulateTdxEvidence}, with MRCONFIGID given as its raw 48 bytes (a launched guest's).
 *
 * @throws {@link UsageError} `ERR_SIM_INIT_DATA_FIELD_LENGTH` unless it is 48 bytes;
 *   `ERR_SIM_REPORT_DATA_TOO_LONG`.
 */
export function simulateTdxEvidenceWithField(
  tdx: SimulatorTdxMaterial,
  request: SimulatedFieldEvidenceRequest,
): TrusteeTdxEvidenceJson {
  const quote = buildTdxQuote(
    {
      version: 4,
      mrConfigId: checkedField('tdx', request.initDataField),
      reportData: padReportData(request.reportData),
      mrTd: hexToBytes(SIMULATOR_TDX_MRTD_HEX),
      tdAttributes:
        TD_ATTRIBUTES |
        (request.debug === true ? TD_ATTRIBUTES_DEBUG : 0n) |
        (request.migratable === true ? TD_ATTRIBUTES_MIGRATABLE : 0n),
    },
    {
      privateKey: tdx.pckPrivateKey,
      chainPem: tdx.pckChainPem,
      attestationKey: tdx.attestationKey,
    },
  )
  return { quote: bytesToBase64(quote) }
}
