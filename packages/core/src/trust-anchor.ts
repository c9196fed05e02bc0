/**
 * How a verifier says which root a chain ended at: the vendor's root that ships pinned with
 * Initguard, or a root the caller supplied (a test PKI, a private CA). Output must never describe
 * a user-supplied root as the vendor's, so every verification result carries this.
 *
 * @module
 */

/** The root a verified chain ends at. */
export interface TrustAnchorInfo {
  /** `pinned`: the vendor root shipped with Initguard; `user-supplied`: a root the caller passed. */
  readonly origin: 'pinned' | 'user-supplied'
  /** The root's subject, e.g. `CN=Intel SGX Root CA, O=Intel Corporation, …`. */
  readonly subject: string
  /** SHA-256 of the root certificate's DER, lower-case hex. */
  readonly sha256: string
}

/** The subject of an X.509 certificate as one line (`node:crypto` gives one RDN a line). */
export function subjectLine(subject: string): string {
  return subject
    .split('\n')
    .filter((part) => part !== '')
    .join(', ')
}
