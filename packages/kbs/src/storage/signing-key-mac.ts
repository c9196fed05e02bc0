/**
 * A signing key's metadata is not in its seal (the sealed private JWK has only the kid in its AAD),
 * so whoever can write the database without the master key could set `retired_at` back to null
 * and make a key retired after a leak sign and verify again, on every replica started afterwards.
 * So each row carries an HMAC-SHA-256 under a key derived from the master key (HKDF-SHA-256, its
 * own label, unlike the workload MAC's) over the kid, the public key, `created_at` and
 * `retired_at`; a row whose MAC is missing or wrong is not used (see `signing-key-store.ts`).
 * Retiring a key writes its MAC again, in the same statement.
 *
 * MAC input: the UTF-8 of `JSON.stringify([label, kid, x, y, created_at, retired_at])`,
 * unambiguous since every field is a JSON string or null. Stored as lowercase hex.
 *
 * What a MAC cannot stop: a writer putting back a row as it was before its retirement (its MAC was
 * right then). A replica that has read the retirement keeps it (`../tokens/signing-keys.ts`);
 * one started later takes the old row (see docs/production.md).
 *
 * @module
 */
import { createHmac, hkdfSync } from 'node:crypto'
import { constantTimeEqual, stringToUtf8 } from '@initguard/core'

const LABEL = 'initguard-kbs signing-key mac v1'

/** The fields a signing key's MAC covers. */
export interface SigningKeyMacFields {
  readonly kid: string
  /** The public key's coordinates (base64url, as in the JWK). */
  readonly x: string
  readonly y: string
  readonly created_at: string
  readonly retired_at: string | null
}

/** Computes and checks signing key MACs under one master key. */
export class SigningKeyMac {
  readonly #key: Uint8Array

  constructor(masterKey: Uint8Array) {
    this.#key = new Uint8Array(hkdfSync('sha256', masterKey, new Uint8Array(0), LABEL, 32))
  }

  /** The MAC of `row`, hex. */
  of(row: SigningKeyMacFields): string {
    return createHmac('sha256', this.#key)
      .update(
        stringToUtf8(
          JSON.stringify([LABEL, row.kid, row.x, row.y, row.created_at, row.retired_at]),
        ),
      )
      .digest('hex')
  }

  /** Whether `mac` is present and right for `row`. */
  authenticates(row: SigningKeyMacFields, mac: string | null): boolean {
    return mac !== null && constantTimeEqual(stringToUtf8(mac), stringToUtf8(this.of(row)))
  }
}
