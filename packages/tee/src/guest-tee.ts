/**
 * The seam between the guest agent and whatever produces hardware evidence inside the guest.
 *
 * Every implementation (configfs-tsm for SEV-SNP and TDX, Gramine's `/dev/attestation` for SGX,
 * a simulated guest) answers one question: "give me a fresh report over these 64 bytes of
 * REPORT_DATA", and hands back both the evidence in the shape the KBS expects in
 * `tee-evidence.primary_evidence` (Trustee's JSON, guest-side.md §2.2) and the init-time field the
 * report carries (HOST_DATA, MRCONFIGID or CONFIGID), read from a source the host cannot forge, so
 * the agent compares the document with what the hardware vouches for, never with a value the host
 * could supply. Where the evidence passes through the host (TDX and SGX quotes are made outside
 * the TEE), the field is taken from the TEE itself and the quote must carry the same value.
 *
 * ```text
 * tee   init-time field    length   where it is read
 * snp   HOST_DATA          32       attestation report offset 0x0C0 (signed by the firmware)
 * tdx   MRCONFIGID         48       sysfs tdx_guest/measurements/mrconfigid (the TD's TDREPORT);
 *                                   the quote's TD report body must equal it
 * sgx   CONFIGID           64       Gramine's local SGX REPORT offset 0x0C0 (EREPORT);
 *                                   the quote's report body must equal it
 * ```
 *
 * A vTPM (`vtpm.ts`, `@initguard/tee/vtpm`) is not a `GuestTee`: it has no launch-time field and
 * makes no evidence here; the guest binds the document to its PCR 8 itself, and only a verifier
 * of TPM quotes (not Initguard's KBS, yet) can hold it to that.
 *
 * @module
 */

/** The TEEs a guest can run in (the KBS protocol's names for them). */
export type GuestTeeKind = 'snp' | 'tdx' | 'sgx'

/** One fresh report, as taken by {@link GuestTee.report}. */
export interface GuestReport {
  readonly tee: GuestTeeKind
  /**
   * The init-time field: HOST_DATA (32 bytes), MRCONFIGID (48) or CONFIGID (64), from the source
   * in the module comment's table (equal to the value the evidence carries).
   */
  readonly initDataField: Uint8Array
  /** The REPORT_DATA the report carries (64 bytes), read back from the report. */
  readonly reportData: Uint8Array
  /**
   * The evidence JSON value a KBS expects as `tee-evidence.primary_evidence` for this TEE
   * (Trustee's shapes: SNP `{attestation_report, cert_chain}`, TDX `{quote, cc_eventlog?}`,
   * SGX `{quote}`).
   */
  readonly evidence: unknown
}

/** A TEE the guest can ask for evidence. */
export interface GuestTee {
  readonly tee: GuestTeeKind
  /** True for the TEE simulator: every response of an agent running on it must say so. */
  readonly simulated: boolean
  /** What and where, for logs and errors (e.g. `configfs-tsm sev_guest at /sys/kernel/config/tsm/report`). */
  readonly description: string
  /**
   * A fresh report binding `reportData` (at most 64 bytes, zero-padded to 64).
   *
   * @throws an `InitguardError` (never a bare `Error`) when the TEE cannot produce one: the
   *   interface is missing, a concurrent writer changed the request, the provider is not the
   *   expected one, the output is malformed.
   */
  report(reportData: Uint8Array, signal?: AbortSignal): Promise<GuestReport>
}
