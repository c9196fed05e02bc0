/**
 * Envelope encryption for secrets at rest: each row gets a fresh 256-bit data key; the value is
 * sealed with AES-256-GCM under it, and the data key is wrapped with AES-256-GCM under the master
 * key. Both operations authenticate the row's identity (the AAD), so a sealed value copied into
 * another row does not open.
 *
 * Sealed layout (format version 1), all lengths in bytes:
 *
 * | offset | length | field                                                        |
 * | ------ | ------ | ------------------------------------------------------------ |
 * | 0      | 1      | format version (1)                                           |
 * | 1      | 8      | master key fingerprint (tells a wrong key from a tampered row) |
 * | 9      | 12     | IV of the key wrap                                           |
 * | 21     | 32     | wrapped data key                                             |
 * | 53     | 16     | GCM tag of the key wrap                                      |
 * | 69     | 12     | IV of the value                                              |
 * | 81     | 16     | GCM tag of the value                                         |
 * | 97     | n      | the value's ciphertext                                       |
 *
 * AAD of both operations: the ASCII of `initguard-kbs/envelope/v1/<kind>/<row id>` followed by
 * the 9 header bytes (version and fingerprint).
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import {
  InternalError,
  UsageError,
  VerificationError,
  isInitguardError,
  concatBytes,
  constantTimeEqual,
  stringToUtf8,
} from '@initguard/core'
import { MASTER_KEY_LENGTH } from './master-key.ts'

const FORMAT_VERSION = 1
const FINGERPRINT_LENGTH = 8
const IV_LENGTH = 12
const TAG_LENGTH = 16
const DATA_KEY_LENGTH = 32
const HEADER_LENGTH = 1 + FINGERPRINT_LENGTH
const VALUE_OFFSET =
  HEADER_LENGTH + IV_LENGTH + DATA_KEY_LENGTH + TAG_LENGTH + IV_LENGTH + TAG_LENGTH

/** Which table a sealed value belongs to; part of its AAD. */
export type EnvelopeKind = 'resource' | 'signing-key'

/** The row a sealed value belongs to: its table and its key (resource path, kid). */
export interface EnvelopeRow {
  readonly kind: EnvelopeKind
  readonly id: string
}

/**
 * Seals and opens values under one master key.
 *
 * @example
 * ```ts
 * const envelope = new Envelope(masterKey)
 * const sealed = envelope.seal({ kind: 'resource', id: 'repo/type/tag' }, secret)
 * envelope.open({ kind: 'resource', id: 'repo/type/tag' }, sealed) // the secret
 * ```
 */
export class Envelope {
  readonly #masterKey: Buffer
  readonly #fingerprint: Uint8Array

  /** @throws {@link UsageError} `ERR_KBS_MASTER_KEY_LENGTH` unless the key is 32 bytes. */
  constructor(masterKey: Uint8Array) {
    if (masterKey.length !== MASTER_KEY_LENGTH) {
      throw new UsageError(
        'ERR_KBS_MASTER_KEY_LENGTH',
        `the master key is ${String(masterKey.length)} bytes, not ${String(MASTER_KEY_LENGTH)}`,
        { hint: 'load it with loadMasterKey' },
      )
    }
    this.#masterKey = Buffer.from(masterKey)
    this.#fingerprint = masterKeyFingerprint(masterKey)
  }

  /** The master key's fingerprint (8 bytes), as written in every sealed value. */
  get fingerprint(): Uint8Array {
    return this.#fingerprint.slice()
  }

  /** Seal `value` for `row`. */
  seal(row: EnvelopeRow, value: Uint8Array): Uint8Array {
    const header = concatBytes([Uint8Array.of(FORMAT_VERSION), this.#fingerprint])
    const aad = associatedData(row, header)
    const dataKey = randomBytes(DATA_KEY_LENGTH)
    const wrap = gcmSeal(this.#masterKey, aad, dataKey)
    const sealed = gcmSeal(dataKey, aad, value)
    dataKey.fill(0)
    return concatBytes([
      header,
      wrap.iv,
      wrap.ciphertext,
      wrap.tag,
      sealed.iv,
      sealed.tag,
      sealed.ciphertext,
    ])
  }

  /**
   * Open a value sealed for `row`.
   *
   * @throws {@link VerificationError} `ERR_KBS_ENVELOPE_FORMAT` (too short, unknown version),
   *   `ERR_KBS_MASTER_KEY_WRONG` (sealed under another master key),
   *   `ERR_KBS_ENVELOPE_INTEGRITY` (modified, or moved from another row).
   */
  open(row: EnvelopeRow, sealed: Uint8Array): Uint8Array {
    const where = `${row.kind} ${row.id}`
    if (sealed.length < VALUE_OFFSET || sealed[0] !== FORMAT_VERSION) {
      throw new VerificationError(
        'ERR_KBS_ENVELOPE_FORMAT',
        `the stored ${where} is not a version-${String(FORMAT_VERSION)} envelope (${String(sealed.length)} bytes, version ${String(sealed[0] ?? 'none')})`,
        {
          details: { kind: row.kind, row: row.id },
          hint: 'the database was modified or written by another program',
        },
      )
    }
    const header = sealed.subarray(0, HEADER_LENGTH)
    if (!constantTimeEqual(header.subarray(1), this.#fingerprint)) {
      throw new VerificationError(
        'ERR_KBS_MASTER_KEY_WRONG',
        `the stored ${where} was sealed under a different master key`,
        {
          details: { kind: row.kind, row: row.id },
          hint: 'start the KBS with the master key this database was created with',
        },
      )
    }
    const aad = associatedData(row, header)
    let at = HEADER_LENGTH
    const take = (length: number): Uint8Array => sealed.subarray(at, (at += length))
    const wrapIv = take(IV_LENGTH)
    const wrappedKey = take(DATA_KEY_LENGTH)
    const wrapTag = take(TAG_LENGTH)
    const valueIv = take(IV_LENGTH)
    const valueTag = take(TAG_LENGTH)
    const ciphertext = sealed.subarray(at)
    try {
      const dataKey = gcmOpen(this.#masterKey, aad, wrapIv, wrappedKey, wrapTag)
      try {
        return new Uint8Array(gcmOpen(dataKey, aad, valueIv, ciphertext, valueTag))
      } finally {
        dataKey.fill(0)
      }
    } catch (error) {
      throw new VerificationError(
        'ERR_KBS_ENVELOPE_INTEGRITY',
        `the stored ${where} does not authenticate: it was modified or belongs to another row`,
        {
          cause: error,
          details: { kind: row.kind, row: row.id },
          hint: 'restore the row from a backup or put the value again',
        },
      )
    }
  }

  /**
   * {@link Envelope.open} for a row the KBS itself read from its database to serve a request. A
   * row that does not open (another master key, modified, moved) is the operator's problem, not
   * the caller's: an {@link InternalError} (500, logged; the answer names nothing) with the
   * envelope's code, never a verification failure, which the HTTP layer answers 401 and a client
   * reads as its own attestation or token being refused.
   */
  openStored(row: EnvelopeRow, sealed: Uint8Array): Uint8Array {
    try {
      return this.open(row, sealed)
    } catch (error) {
      if (!isInitguardError(error) || error.category !== 'verification') throw error
      throw new InternalError(error.code, error.message, {
        cause: error,
        details: error.details,
        ...(error.hint === undefined ? {} : { hint: error.hint }),
      })
    }
  }
}

/** First 8 bytes of HMAC-SHA-256(master key, label): identifies the key without revealing it. */
export function masterKeyFingerprint(masterKey: Uint8Array): Uint8Array {
  const mac = createHmac('sha256', masterKey)
    .update('initguard-kbs master key fingerprint v1')
    .digest()
  return new Uint8Array(mac.subarray(0, FINGERPRINT_LENGTH))
}

function associatedData(row: EnvelopeRow, header: Uint8Array): Uint8Array {
  return concatBytes([
    stringToUtf8(`initguard-kbs/envelope/v${String(FORMAT_VERSION)}/${row.kind}/${row.id}`),
    header,
  ])
}

interface GcmSealed {
  readonly iv: Uint8Array
  readonly ciphertext: Uint8Array
  readonly tag: Uint8Array
}

function gcmSeal(key: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): GcmSealed {
  const iv = randomBytes(IV_LENGTH)
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH })
  cipher.setAAD(aad)
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return { iv, ciphertext, tag: cipher.getAuthTag() }
}

function gcmOpen(
  key: Uint8Array,
  aad: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH })
  decipher.setAAD(aad)
  decipher.setAuthTag(tag)
  return Buffer.concat([decipher.update(ciphertext), decipher.final()])
}
