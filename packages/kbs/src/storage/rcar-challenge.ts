/**
 * Stateless RCAR challenges: `/auth` writes nothing. The `kbs-session-id` cookie itself carries
 * the challenge (a random id, its expiry, the TEE) and a MAC under a key derived from the master
 * key, so every replica that shares the master key accepts it and nobody else can make one. The
 * nonce is not in the cookie: it is a second MAC of the same body under another derived key, so
 * it cannot be predicted before `/auth` and is recomputed at `/attest`. Single use is the
 * database's job (`session-store.ts`: the one write at the end of `/attest`).
 *
 * Cookie value: lowercase hex (printable and opaque, as Trustee's clients expect) of 58 bytes:
 *
 * | offset | bytes | field                                                        |
 * | ------ | ----- | ------------------------------------------------------------ |
 * | 0      | 1     | layout version, 1                                            |
 * | 1      | 16    | session id (random)                                          |
 * | 17     | 8     | expiry, milliseconds since the epoch, unsigned big-endian    |
 * | 25     | 1     | TEE: 0 snp, 1 tdx, 2 sgx (`COOKIE_TEES`, fixed here)          |
 * | 26     | 32    | HMAC-SHA-256 of bytes 0–25 under the cookie key              |
 *
 * Keys: HKDF-SHA-256 of the master key (no salt), 32 bytes each, with the labels below; the
 * nonce is the base64 of HMAC-SHA-256 of bytes 0–25 under the nonce key (44 characters, as
 * Trustee's 32 random bytes). A master key change invalidates outstanding challenges (the clients
 * start again at `/auth`).
 *
 * @module
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { bytesToHex, constantTimeEqual } from '@initguard/core'
import type { KbsTee } from '@initguard/kbs-protocol'
import type { IssuedChallenge, RcarChallenge } from '../ports.ts'

const COOKIE_LABEL = 'initguard-kbs rcar-challenge cookie mac v1'
const NONCE_LABEL = 'initguard-kbs rcar-challenge nonce v1'
const VERSION = 1
const ID_BYTES = 16
const BODY_BYTES = 1 + ID_BYTES + 8 + 1
const MAC_BYTES = 32
/** The last millisecond a `Date` can hold. */
const MAX_DATE_MS = 8.64e15

/**
 * The TEE byte's values. Part of the wire layout, so fixed here rather than taken from the order
 * of a list exported for other uses: reordering that list must not re-label outstanding cookies.
 */
const COOKIE_TEES: readonly KbsTee[] = ['snp', 'tdx', 'sgx']

/** Characters of a cookie value: the hex of body and MAC. */
export const CHALLENGE_COOKIE_LENGTH: number = 2 * (BODY_BYTES + MAC_BYTES)

const COOKIE_VALUE = new RegExp(`^[0-9a-f]{${String(CHALLENGE_COOKIE_LENGTH)}}$`)

/** Makes and opens challenge cookies under one master key. */
export class RcarChallengeCodec {
  readonly #cookieKey: Buffer
  readonly #nonceKey: Buffer

  constructor(masterKey: Uint8Array) {
    const derive = (label: string): Buffer =>
      Buffer.from(hkdfSync('sha256', masterKey, new Uint8Array(0), label, 32))
    this.#cookieKey = derive(COOKIE_LABEL)
    this.#nonceKey = derive(NONCE_LABEL)
  }

  /**
   * A new challenge for `tee`, valid until `expiresAt`.
   *
   * @param id 16 bytes; random unless given (tests).
   */
  issue(tee: KbsTee, expiresAt: Date, id: Uint8Array = randomBytes(ID_BYTES)): IssuedChallenge {
    const expiry = expiresAt.getTime()
    const teeIndex = COOKIE_TEES.indexOf(tee)
    if (id.length !== ID_BYTES || !(expiry >= 0) || teeIndex < 0)
      throw new RangeError('a challenge needs a 16-byte id, a time after 1970 and a known TEE')
    const body = Buffer.alloc(BODY_BYTES)
    body[0] = VERSION
    body.set(id, 1)
    body.writeBigUInt64BE(BigInt(expiry), 1 + ID_BYTES)
    body[BODY_BYTES - 1] = teeIndex
    const mac = this.#mac(this.#cookieKey, body)
    return {
      ...this.#challenge(body, tee, expiry),
      cookie: bytesToHex(Buffer.concat([body, mac])),
    }
  }

  /**
   * The challenge a cookie value carries: `undefined` unless it is exactly
   * {@link CHALLENGE_COOKIE_LENGTH} lowercase hex characters of this layout whose MAC verifies
   * under this master key. Expiry is the caller's to check (it has the clock).
   */
  open(cookie: string): RcarChallenge | undefined {
    if (!COOKIE_VALUE.test(cookie)) return undefined
    const bytes = Buffer.from(cookie, 'hex')
    const body = bytes.subarray(0, BODY_BYTES)
    // Verified before any field is read: an unauthenticated body is not looked at.
    if (!constantTimeEqual(bytes.subarray(BODY_BYTES), this.#mac(this.#cookieKey, body)))
      return undefined
    const expiry = body.readBigUInt64BE(1 + ID_BYTES)
    const tee = COOKIE_TEES[body[BODY_BYTES - 1] ?? -1]
    if (body[0] !== VERSION || tee === undefined || expiry > BigInt(MAX_DATE_MS)) return undefined
    return this.#challenge(body, tee, Number(expiry))
  }

  #challenge(body: Buffer, tee: KbsTee, expiry: number): RcarChallenge {
    return {
      id: bytesToHex(body.subarray(1, 1 + ID_BYTES)),
      tee,
      nonce: this.#mac(this.#nonceKey, body).toString('base64'),
      expiresAt: new Date(expiry),
    }
  }

  #mac(key: Buffer, body: Buffer): Buffer {
    return createHmac('sha256', key).update(body).digest()
  }
}
