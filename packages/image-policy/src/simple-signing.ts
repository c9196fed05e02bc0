/**
 * Verification of GPG "simple signing" signatures (containers-signature(5)), as containers/image
 * does in `signature/mechanism_gpgme.go` / `mechanism_openpgp.go`: the blob is an OpenPGP signed
 * message (RFC 4880 §11.3) whose literal data is the JSON payload. This module checks the message
 * and its one signature against a keyring at a given time and returns the verified payload bytes;
 * it does not parse the payload (see `signature-payload.ts`).
 *
 * Wire layout of what `skopeo copy --sign-by` writes:
 *
 * ```text
 * A3 01  compressed data (old format, indeterminate length), algorithm 1 = ZIP
 *   └ One-Pass Signature (tag 4) · Literal Data (tag 11, the payload) · Signature (tag 2)
 * ```
 *
 * The cryptography is openpgp's; the message framing is checked first, by
 * `simple-signing-framing.ts`.
 *
 * @module
 */
import {
  config as openpgpDefaults,
  enums,
  readMessage,
  verify,
  type Config,
  type KeyID,
  type PublicKey,
  type SignaturePacket,
} from 'openpgp'
import { UsageError, VerificationError, bytesToHex } from '@initguard/core'
import { CLOCK_SKEW_SECONDS } from './clock-skew.ts'
import { refuseSignature } from './signature-refusal.ts'
import type { GpgKeyring } from './gpg-keyring.ts'
import {
  MAX_SIMPLE_SIGNING_BYTES,
  checkSignedMessageShape,
  notSignedMessage,
} from './simple-signing-framing.ts'

/** The result of a successful {@link verifySimpleSigning}. */
export interface VerifiedSimpleSigning {
  /** The signed payload (the literal data), not yet parsed: a containers-signature(5) JSON document. */
  readonly payloadBytes: Uint8Array
  /** Uppercase hex fingerprint of the primary key that signed (what `signedBy` trusts). */
  readonly signerFingerprint: string
  /** Uppercase hex fingerprint of the key that made the signature: the primary key or a subkey. */
  readonly signingKeyFingerprint: string
  /** When the signature says it was made. */
  readonly signatureCreated: Date
}

/**
 * openpgp settings, pinned here (openpgp's own defaults in 6.x) so that code elsewhere changing
 * openpgp's global `config` cannot weaken this verification. SHA-1, MD5 and RIPEMD-160 data
 * signatures are refused (SHA-1 collisions make them forgeable), as are RSA keys under 2047 bits,
 * DSA and ElGamal; gpg 2.2's defaults (RSA-3072 or ed25519, SHA-256/512) all pass.
 */
const CONFIG: Config = {
  ...openpgpDefaults,
  ignoreUnsupportedPackets: false,
  ignoreMalformedPackets: false,
  enforceGrammar: true,
  minRSABits: 2047,
  rejectHashAlgorithms: new Set([enums.hash.md5, enums.hash.ripemd]),
  rejectMessageHashAlgorithms: new Set([enums.hash.md5, enums.hash.ripemd, enums.hash.sha1]),
  rejectPublicKeyAlgorithms: new Set([enums.publicKey.elgamal, enums.publicKey.dsa]),
  rejectCurves: new Set([enums.curve.secp256k1]),
  allowInsecureVerificationWithReformattedKeys: false,
  // Bounds BZIP2 content too, which the framing check cannot inflate.
  maxDecompressedMessageSize: MAX_SIMPLE_SIGNING_BYTES,
}

/** The data-signature hash algorithms refused, by openpgp id, with their names for messages. */
const WEAK_HASHES: ReadonlyMap<enums.hash | null, string> = new Map([
  [enums.hash.md5, 'MD5'],
  [enums.hash.ripemd, 'RIPEMD-160'],
  [enums.hash.sha1, 'SHA-1'],
])

/**
 * Verify a GPG simple-signing blob against a keyring at time `now`.
 *
 * Steps, each refusing with its own code:
 * 1. framing: a binary OpenPGP signed message, optionally compressed, no packet or byte after it
 *    (bytes after the end of a ZIP/ZLIB stream are ignored, as gpg and containers/image do);
 * 2. exactly one signature;
 * 3. the signature's issuer key is in `keyring`;
 * 4. the hash algorithm is not weak;
 * 5. openpgp verifies the signature over the literal data at `now` (not expired, key valid when it
 *    signed), or at the signature's date when that is at most {@link CLOCK_SKEW_SECONDS} after
 *    `now` (gpg accepts any date; a later one is refused); a key that had expired by that date is
 *    refused as expired, although gpg, judging the key at its own clock only, accepts it;
 * 6. the signing key (and its primary key) exists and is neither revoked nor expired at `now`, in
 *    every copy of it that `keyring` holds.
 *
 * @param blob - the signature file (`signature-N` in a lookaside store or a `dir:` image).
 * @param keyring - the keys a `signedBy` requirement trusts ({@link parseGpgKeyring}).
 * @param now - the time to verify at.
 * @throws {@link VerificationError} `ERR_SIMPLE_SIGNING_MALFORMED`, `…_TOO_LARGE`,
 *   `…_TRAILING_DATA`, `…_NOT_SIGNED_MESSAGE`, `…_MULTIPLE_SIGNATURES`, `…_UNKNOWN_KEY`
 *   (details.keyId names the issuer), `…_WEAK_ALGORITHM`, `…_SIGNATURE_IN_FUTURE`,
 *   `…_SIGNATURE_EXPIRED`, `…_KEY_NOT_YET_VALID`, `…_KEY_REVOKED`, `…_KEY_EXPIRED`,
 *   `…_KEY_UNUSABLE`, `…_BAD_SIGNATURE`,
 *   `…_UNSUPPORTED_SIGNATURE` (an OpenPGP version 3 signature by a trusted key);
 *   {@link UsageError} `ERR_SIMPLE_SIGNING_INVALID_TIME` when `now` is not a valid date.
 * @example
 * ```ts
 * const keyring = await parseGpgKeyring(keyBytes, 'keyPath')
 * const { payloadBytes, signerFingerprint } = await verifySimpleSigning(sigBytes, keyring, new Date())
 * const payload = parseSignaturePayload(payloadBytes, 'atomic container signature')
 * ```
 * @see containers-signature(5); RFC 4880 §11.3 (signed messages), §5.2 (signatures)
 */
export async function verifySimpleSigning(
  blob: Uint8Array,
  keyring: GpgKeyring,
  now: Date,
): Promise<VerifiedSimpleSigning> {
  if (Number.isNaN(now.getTime())) {
    const hint = 'pass a valid Date as `now`'
    throw new UsageError('ERR_SIMPLE_SIGNING_INVALID_TIME', 'the time `now` is not a valid date', {
      hint,
    })
  }
  // Copy once: what is checked, verified and returned must be the same bytes.
  const bytes = Uint8Array.from(blob)
  const shape = checkSignedMessageShape(bytes)
  if (shape !== undefined && shape.signatures > 1) throw multiple(shape.signatures)
  if (shape?.v3IssuerKeyId !== undefined) throw refuseV3(shape.v3IssuerKeyId, keyring)

  let verification: Awaited<ReturnType<typeof verifyMessage>>
  try {
    verification = await verifyMessage(bytes, keyring, now)
    // The signature's date is known only once openpgp has read it: verify again at that date when
    // it is within the skew (the first result would refuse it as made in the future).
    const at = verificationTime(verification.created, now)
    if (at !== now) {
      // That first result is dropped: its rejection must not surface as an unhandled one.
      verification.signature.catch(() => undefined)
      verification = await verifyMessage(bytes, keyring, at)
    }
  } catch (e) {
    if (e instanceof VerificationError) throw e
    throw refuseSignature(
      'ERR_SIMPLE_SIGNING_MALFORMED',
      'simple signing blob is not a well-formed OpenPGP signed message',
      'the signature file is damaged or is not a containers-signature(5) blob; fetch it again',
      {},
      e,
    )
  }
  const { data, signature, keyID, packet, created } = verification
  const keyId = keyID.toHex().toUpperCase()
  const candidates = keyring.keys.filter((k) => k.getKeys(keyID).length > 0)
  const signer = candidates[0]
  if (signer === undefined) {
    throw unknownKey(
      keyId,
      packet.issuerFingerprint === null
        ? {}
        : { issuerFingerprint: bytesToHex(packet.issuerFingerprint).toUpperCase() },
    )
  }
  const weakHash = WEAK_HASHES.get(packet.hashAlgorithm)
  if (weakHash !== undefined) {
    throw refuseSignature(
      'ERR_SIMPLE_SIGNING_WEAK_ALGORITHM',
      `simple signing signature by key ID ${keyId} uses the weak hash algorithm ${weakHash}`,
      'sign again with a SHA-2 digest (gpg --digest-algo SHA512)',
      { keyId, hashAlgorithm: weakHash },
    )
  }
  // openpgp only rejects `verified`; the signature is valid only once this promise resolves.
  try {
    await signature
  } catch (e) {
    throw await explainFailure(e, packet, created, candidates, keyID, keyId, now)
  }
  // openpgp checked the key's validity when the signature was made; containers/image (gpg) also
  // refuses a key revoked or expired since, so check again at `now`.
  const problem = await keyProblem(candidates, keyID, keyId, now)
  if (problem !== undefined) throw problem
  // Succeeded for every candidate just above; called again for the (sub)key it selects.
  const signingKey = await signer.getSigningKey(keyID, now, undefined, CONFIG)
  return {
    payloadBytes: Uint8Array.from(data),
    signerFingerprint: signer.getFingerprint().toUpperCase(),
    signingKeyFingerprint: signingKey.getFingerprint().toUpperCase(),
    signatureCreated: new Date(created.getTime()),
  }
}

/**
 * The time openpgp verifies at: `now`, or the signature's own date when that is at most
 * {@link CLOCK_SKEW_SECONDS} later (openpgp refuses any signature dated after the time it is
 * given). The signature's expiry and the key's validity are then checked at that date; the key is
 * checked again at `now` by {@link keyProblem}, so nothing is judged later than it should be.
 */
function verificationTime(created: Date, now: Date): Date {
  if (created <= now) return now
  return created.getTime() <= now.getTime() + CLOCK_SKEW_SECONDS * 1000 ? created : now
}

/** Parse and verify with openpgp; return the data and the one signature, not yet awaited. */
async function verifyMessage(
  bytes: Uint8Array,
  keyring: GpgKeyring,
  now: Date,
): Promise<{
  data: Uint8Array
  signature: Promise<true>
  keyID: KeyID
  packet: SignaturePacket
  created: Date
}> {
  const message = await readMessage({ binaryMessage: bytes, config: CONFIG })
  // containers/image (gpgme) refuses a blob with more than one signature packet of any type; the
  // framing check cannot see inside BZIP2, and openpgp's result drops non-data signatures.
  const signaturePackets = message
    .unwrapCompressed()
    .packets.filterByTag(enums.packet.signature).length
  if (signaturePackets > 1) throw multiple(signaturePackets)
  // expectSigned is left off on purpose: it folds every failure into one thrown message, and
  // we need the signature's details to give each failure its own code. Instead we require exactly
  // one signature here and await its `verified` promise before returning anything.
  const result = await verify({
    message,
    verificationKeys: [...keyring.keys],
    format: 'binary',
    date: now,
    expectSigned: false,
    config: CONFIG,
  })
  const [first, ...rest] = result.signatures
  // Signed compressed content is not inspected by the framing check when it is BZIP2, and openpgp
  // ignores signatures that are not over data (types other than binary and text): count again.
  if (first === undefined) throw notSignedMessage('a message without a data signature')
  if (rest.length > 0) throw multiple(result.signatures.length)
  const [packet] = (await first.signature).packets
  // Defensive: openpgp pairs every signature result with a parsed packet that has a creation time.
  if (packet?.created == null) throw notSignedMessage('a signature without its signature packet')
  return {
    // A Uint8Array: the input is not a stream and the format is binary (openpgp's conditional
    // stream types do not resolve here).
    data: result.data as Uint8Array,
    signature: first.verified,
    keyID: first.keyID,
    packet,
    created: packet.created,
  }
}

/**
 * A version 3 signature: containers/image (through gpg) still verifies them, openpgp 6 cannot. Say
 * first, as for any signature, whether the key is trusted at all.
 */
function refuseV3(keyId: string, keyring: GpgKeyring): VerificationError {
  const known = keyring.keys.some((k) =>
    k.getKeys().some((s) => s.getKeyID().toHex().toUpperCase() === keyId),
  )
  return known
    ? refuseSignature(
        'ERR_SIMPLE_SIGNING_UNSUPPORTED_SIGNATURE',
        `simple signing signature by key ID ${keyId} is an OpenPGP version 3 signature, which is not supported`,
        'sign the image again with GnuPG 2.1 or later (version 4 signatures)',
        { keyId, signatureVersion: 3 },
      )
    : unknownKey(keyId, {})
}

function unknownKey(keyId: string, extra: Record<string, string>): VerificationError {
  return refuseSignature(
    'ERR_SIMPLE_SIGNING_UNKNOWN_KEY',
    `simple signing signature was made by key ID ${keyId}, which is not in the trusted keyring`,
    "add the signer's public key to the policy (keyPath/keyPaths/keyData), or check that the image was signed by the key you expect",
    { keyId, ...extra },
  )
}

function multiple(count: number): VerificationError {
  return refuseSignature(
    'ERR_SIMPLE_SIGNING_MULTIPLE_SIGNATURES',
    `simple signing blob carries ${count} signatures; containers-signature(5) allows exactly one`,
    'sign with a single key (one --sign-by); store further signatures as separate signature-N files',
    { signatures: count },
  )
}

/** Why openpgp refused the signature, from the most specific cause to the least. */
async function explainFailure(
  cause: unknown,
  packet: SignaturePacket,
  created: Date,
  candidates: readonly PublicKey[],
  keyID: KeyID,
  keyId: string,
  now: Date,
): Promise<VerificationError> {
  const signer = candidates.flatMap((key) => key.getKeys(keyID))[0]
  if (signer !== undefined && signer.getCreationTime() > created) {
    return refuseSignature(
      'ERR_SIMPLE_SIGNING_SIGNATURE_BEFORE_KEY',
      `simple signing signature by key ID ${keyId} is dated ${created.toISOString()}, before its key was created (${signer.getCreationTime().toISOString()})`,
      "the signer's clock was wrong when it signed, or the key was re-created; sign the image again",
      { keyId, created: created.toISOString() },
      cause,
    )
  }
  if (created > verificationTime(created, now)) {
    return refuseSignature(
      'ERR_SIMPLE_SIGNING_SIGNATURE_IN_FUTURE',
      `simple signing signature by key ID ${keyId} was made at ${created.toISOString()}, more than ${CLOCK_SKEW_SECONDS} s after the verification time ${now.toISOString()}`,
      `check the signer's and this machine's clocks (NTP); a signature may be dated at most ${CLOCK_SKEW_SECONDS} s ahead`,
      { keyId, created: created.toISOString() },
      cause,
    )
  }
  const expires = packet.getExpirationTime()
  if (expires <= now) {
    return refuseSignature(
      'ERR_SIMPLE_SIGNING_SIGNATURE_EXPIRED',
      `simple signing signature by key ID ${keyId} expired at ${new Date(expires).toISOString()}`,
      'sign the image again',
      { keyId, expired: new Date(expires).toISOString() },
      cause,
    )
  }
  return (
    (await keyProblem(candidates, keyID, keyId, now)) ??
    (await expiredWhenSigned(candidates, keyID, keyId, created, now, cause)) ??
    refuseSignature(
      'ERR_SIMPLE_SIGNING_BAD_SIGNATURE',
      `simple signing signature by key ID ${keyId} does not verify`,
      'the signature or the signed payload was altered, or the key in the keyring is not the one that signed',
      { keyId },
      cause,
    )
  )
}

/**
 * A signature dated within the skew after `now` is verified at its own date, so a key that
 * expires between the two is valid at `now` yet had expired when it signed, which openpgp reports
 * only as a failed verification. gpg judges the key at its own clock only and accepts such a
 * signature (GOODSIG); here the keyring's word is kept, and the refusal names the expiry: the
 * usual cause is a copy of the key exported before the signer extended it.
 */
async function expiredWhenSigned(
  candidates: readonly PublicKey[],
  keyID: KeyID,
  keyId: string,
  created: Date,
  now: Date,
  cause: unknown,
): Promise<VerificationError | undefined> {
  if (created <= now) return undefined
  for (const key of candidates) {
    const expired = await expiryBy(key, keyID, created)
    if (expired === undefined) continue
    const fingerprint = key.getFingerprint().toUpperCase()
    const ahead = (created.getTime() - now.getTime()) / 1000
    return refuseSignature(
      'ERR_SIMPLE_SIGNING_KEY_EXPIRED',
      `the key that made the simple signing signature (key ID ${keyId}, primary key ${fingerprint}) expired at ${expired.toISOString()}, before the signature was made (${created.toISOString()}, ${ahead} s after the verification time ${now.toISOString()}, within the ${CLOCK_SKEW_SECONDS} s allowed for clock skew)`,
      "the signer has probably extended the key's expiry since the trusted copy was made: export the key again (gpg --export) and update the policy's keyPath/keyPaths/keyData, or have the image signed with a valid key",
      { keyId, fingerprint, created: created.toISOString(), expired: expired.toISOString() },
      cause,
    )
  }
  return undefined
}

/**
 * When this copy of the signing key expires (the earlier of its primary key's and, for a subkey,
 * the subkey's own expiry), if that is at or before `at`; openpgp counts a key as expired from its
 * expiry time on. An expiry openpgp cannot work out (null) is left to the other checks.
 */
async function expiryBy(key: PublicKey, keyID: KeyID, at: Date): Promise<Date | undefined> {
  const times = [await key.getExpirationTime(undefined, CONFIG)]
  for (const subkey of key.getSubkeys(keyID)) times.push(await subkey.getExpirationTime(at, CONFIG))
  const expiry = Math.min(...times.map((t) => (t === null ? Infinity : Number(t))))
  return expiry <= at.getTime() ? new Date(expiry) : undefined
}

/**
 * Whether every copy of the signing key in the keyring is usable for signing at `now`. openpgp has
 * no error codes; its messages ("Primary key is revoked", "Subkey is expired", …) are matched here
 * and pinned by tests with keys gpg revoked and expired.
 */
async function keyProblem(
  candidates: readonly PublicKey[],
  keyID: KeyID,
  keyId: string,
  now: Date,
): Promise<VerificationError | undefined> {
  for (const key of candidates) {
    const fingerprint = key.getFingerprint().toUpperCase()
    // gpg refuses a key dated after its clock ("created … in the future"); openpgp would call it
    // expired, which sends the user to the wrong fix.
    const created = [key, ...key.getKeys(keyID)].map((k) => k.getCreationTime())
    if (created.some((time) => time > now)) {
      return refuseSignature(
        'ERR_SIMPLE_SIGNING_KEY_NOT_YET_VALID',
        `the key that made the simple signing signature (key ID ${keyId}, primary key ${fingerprint}) was created after the verification time ${now.toISOString()}`,
        "check this machine's clock (NTP) and the signer's; a key cannot sign before it exists",
        { keyId, fingerprint },
      )
    }
    try {
      await key.getSigningKey(keyID, now, undefined, CONFIG)
    } catch (e) {
      // String(error) is "Error: <message>".
      const text = String(e)
      const details = { keyId, fingerprint }
      if (text.includes('revoked')) {
        return refuseSignature(
          'ERR_SIMPLE_SIGNING_KEY_REVOKED',
          `the key that made the simple signing signature (key ID ${keyId}, primary key ${fingerprint}) is revoked`,
          'a revoked key must not be trusted; have the image signed with a valid key',
          details,
          e,
        )
      }
      if (text.includes('expired')) {
        return refuseSignature(
          'ERR_SIMPLE_SIGNING_KEY_EXPIRED',
          `the key that made the simple signing signature (key ID ${keyId}, primary key ${fingerprint}) has expired at ${now.toISOString()}`,
          'extend the key expiry (gpg --quick-set-expire) and export the key again, or sign with a valid key',
          details,
          e,
        )
      }
      return refuseSignature(
        'ERR_SIMPLE_SIGNING_KEY_UNUSABLE',
        `the key that made the simple signing signature (key ID ${keyId}, primary key ${fingerprint}) cannot be used for signing`,
        'use a key with signing capability of at least RSA-2048 or ed25519, and export it again',
        details,
        e,
      )
    }
  }
  return undefined
}
