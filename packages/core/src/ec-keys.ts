/**
 * What kind of key a `KeyObject` is, asked the one way: the attestation formats name one curve
 * each (P-256 for Intel DCAP, P-384 for AMD SEV-SNP), and a key on another curve must be refused
 * before it is used.
 *
 * @module
 */
import type { KeyObject, KeyObjectType } from 'node:crypto'

/** OpenSSL's names of the curves the attestation formats use: P-256 and P-384. */
export type EcCurve = 'prime256v1' | 'secp384r1'

/**
 * True when `key` is an elliptic-curve key on `curve` and, when `type` is given, of that type
 * (`'public'` or `'private'`).
 *
 * @example
 * ```ts
 * isEcKey(createPublicKey(pem), 'prime256v1') // true for an ECDSA P-256 key
 * ```
 */
export function isEcKey(key: KeyObject, curve: EcCurve, type?: KeyObjectType): boolean {
  return (
    (type === undefined || key.type === type) &&
    key.asymmetricKeyType === 'ec' &&
    key.asymmetricKeyDetails?.namedCurve === curve
  )
}
