/**
 * The trust material of a `sigstoreSigned` requirement — public keys, Fulcio CAs, a PKI's roots
 * and intermediates, Rekor keys — and its preparation: everything is parsed once, before any
 * signature is looked at, so that a key file that is not a key is reported as such (malformed
 * input) rather than as a refused signature, and also when the image has no signature at all.
 *
 * @module
 */
import { UsageError } from '@initguard/core'
import { parseFulcioCaCertificates } from './fulcio-parse.ts'
import { parsePkiCertificates } from './pki-certificate.ts'
import {
  parseRekorPublicKeys,
  parseSigstorePublicKey,
  type SigstorePublicKey,
} from './sigstore-public-key.ts'
import type { SigstoreCertificate } from './sigstore-x509.ts'

/** The policy's `fulcio` key source, with its CA certificates read. */
export interface FulcioTrust {
  /** PEM CA certificates (`fulcio.caPath` / `caData`). */
  readonly caCertificates: Uint8Array
  /** The OIDC issuer the leaf must record, exactly. */
  readonly oidcIssuer: string
  /** The email the leaf's SAN must list, exactly. */
  readonly subjectEmail: string
}

/** The policy's `pki` key source, with its certificate files read. */
export interface PkiTrust {
  /** PEM root certificates (`pki.caRootsPath` / `caRootsData`). */
  readonly caRoots: Uint8Array
  /** PEM intermediate certificates (`pki.caIntermediatesPath` / `caIntermediatesData`), if any. */
  readonly caIntermediates?: Uint8Array | undefined
  /** The email the leaf's SAN must list (at least one of the two subjects is required). */
  readonly subjectEmail?: string | undefined
  /** The host name the leaf must be valid for. */
  readonly subjectHostname?: string | undefined
}

/**
 * What a signature must verify against: the policy's key source, with its Rekor keys.
 *
 * - `publicKeys`: PEM public keys (`keyPath(s)` / `keyData(s)`); with `rekorPublicKeys`, a Rekor
 *   SET naming the key is also required.
 * - `fulcio`: Fulcio CA certificates and the identity the leaf must name; `rekorPublicKeys` is
 *   then mandatory.
 * - `pki`: the user's own roots and intermediates and the subject the leaf must name;
 *   `rekorPublicKeys` is then refused (containers/image does not support Rekor with `pki`).
 *
 * `rekorPublicKeys` are PEM ECDSA keys (`rekorPublicKeyPath(s)` / `rekorPublicKeyData(s)`).
 */
export type SigstoreTrust = (
  | {
      readonly publicKeys: readonly Uint8Array[]
      readonly fulcio?: undefined
      readonly pki?: undefined
    }
  | { readonly fulcio: FulcioTrust; readonly publicKeys?: undefined; readonly pki?: undefined }
  | { readonly pki: PkiTrust; readonly publicKeys?: undefined; readonly fulcio?: undefined }
) & { readonly rekorPublicKeys?: readonly Uint8Array[] | undefined }

/** {@link SigstoreTrust} with every key and certificate parsed. */
export type PreparedSigstoreTrust = { readonly prepared: true } & (
  | { readonly kind: 'keys'; readonly keys: readonly SigstorePublicKey[] }
  | {
      readonly kind: 'fulcio'
      readonly roots: readonly SigstoreCertificate[]
      readonly oidcIssuer: string
      readonly subjectEmail: string
    }
  | {
      readonly kind: 'pki'
      readonly roots: readonly SigstoreCertificate[]
      readonly intermediates: readonly SigstoreCertificate[]
      readonly subjectEmail: string | undefined
      readonly subjectHostname: string | undefined
    }
) & { readonly rekorKeys: readonly SigstorePublicKey[] | undefined }

function trustError(message: string, hint: string): UsageError {
  return new UsageError('ERR_SIGSTORE_TRUST_INVALID', message, { hint })
}

const nonEmpty = (text: string | undefined): string | undefined =>
  text === undefined || text === '' ? undefined : text

/**
 * Parse every key and certificate of `trust`.
 *
 * @throws `MalformedInputError` for unusable trust material: `ERR_SIGSTORE_KEY_INVALID`,
 *   `ERR_SIGSTORE_KEY_UNSUPPORTED`, `ERR_REKOR_KEY_UNSUPPORTED`, `ERR_FULCIO_CA_INVALID`,
 *   `ERR_PKI_CA_ROOTS_INVALID`, `ERR_PKI_CA_INTERMEDIATES_INVALID`.
 * @throws {@link UsageError} `ERR_SIGSTORE_TRUST_INVALID` for a combination the policy parser
 *   refuses (Fulcio without Rekor, PKI with Rekor, empty lists or subjects).
 */
export function prepareSigstoreTrust(trust: SigstoreTrust): PreparedSigstoreTrust {
  const rekorPems = trust.rekorPublicKeys
  if (rekorPems?.length === 0) {
    throw trustError('rekorPublicKeys is empty', 'omit it, or give at least one Rekor key')
  }
  const rekorKeys = rekorPems === undefined ? undefined : parseRekorPublicKeys(rekorPems)
  if (trust.fulcio !== undefined) {
    const { fulcio } = trust
    if (rekorKeys === undefined) {
      throw trustError(
        'Fulcio trust needs Rekor public keys',
        'add rekorPublicKeyPath or rekorPublicKeyData: Fulcio certificates are only trusted with a Rekor SET',
      )
    }
    if (fulcio.oidcIssuer === '' || fulcio.subjectEmail === '') {
      throw trustError(
        'Fulcio trust needs a non-empty oidcIssuer and subjectEmail',
        'set fulcio.oidcIssuer and fulcio.subjectEmail in the policy',
      )
    }
    const roots = parseFulcioCaCertificates(fulcio.caCertificates)
    const { oidcIssuer, subjectEmail } = fulcio
    return { prepared: true, kind: 'fulcio', roots, oidcIssuer, subjectEmail, rekorKeys }
  }
  if (trust.pki !== undefined) {
    const { pki } = trust
    if (rekorKeys !== undefined) {
      throw trustError(
        'PKI trust cannot have Rekor public keys',
        'remove the rekorPublicKey… keys: containers/image does not support Rekor with pki',
      )
    }
    const subjectEmail = nonEmpty(pki.subjectEmail)
    const subjectHostname = nonEmpty(pki.subjectHostname)
    if (subjectEmail === undefined && subjectHostname === undefined) {
      throw trustError(
        'PKI trust needs subjectEmail or subjectHostname',
        'set pki.subjectEmail and/or pki.subjectHostname in the policy',
      )
    }
    return {
      prepared: true,
      kind: 'pki',
      roots: parsePkiCertificates(pki.caRoots, 'caRoots'),
      intermediates:
        pki.caIntermediates === undefined
          ? []
          : parsePkiCertificates(pki.caIntermediates, 'caIntermediates'),
      subjectEmail,
      subjectHostname,
      rekorKeys,
    }
  }
  const { publicKeys } = trust
  if (publicKeys.length === 0) {
    throw trustError('publicKeys is empty', 'give at least one public key')
  }
  const keys = publicKeys.map((pem, i) =>
    parseSigstorePublicKey(pem, publicKeys.length === 1 ? 'public key' : `public key ${i + 1}`),
  )
  return { prepared: true, kind: 'keys', keys, rekorKeys }
}
