/**
 * Public keys for sigstore signatures, and the signature check itself, as containers/image does it
 * through sigstore-go's `signature.LoadVerifier(key, crypto.SHA256)`:
 *
 * | key (SPKI)              | signature over the payload bytes                                  |
 * | ----------------------- | ----------------------------------------------------------------- |
 * | ECDSA P-256/P-384/P-521 | ECDSA with SHA-256 (whatever the curve), DER `Ecdsa-Sig-Value`, or IEEE P1363 `r‖s` when the bytes do not start with a DER SEQUENCE of two INTEGERs |
 * | RSA (≥ 2048 bits)       | RSASSA-PKCS1-v1_5 with SHA-256, exactly modulus-length bytes       |
 * | Ed25519                 | pure Ed25519 over the payload                                     |
 *
 * Keys are PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS #1), as sigstore's
 * `cryptoutils.UnmarshalPEMToPublicKey` accepts. Stricter than containers/image: P-224 and RSA
 * keys under 2048 bits are refused, and a key file must hold exactly one PEM block (Go silently
 * uses the first one).
 *
 * @see sigstore/sigstore `pkg/signature/{ecdsa,rsapkcs1v15,ed25519}.go`; RFC 5480, RFC 8017 §8.2,
 *   RFC 8032.
 * @module
 */
import { constants, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto'
import {
  LruCache,
  MalformedInputError,
  bytesToHex,
  decodeDerInteger,
  decodeDerSequence,
  parseDer,
} from '@initguard/core'
import { readPemBlocks } from './sigstore-pem.ts'

/** A parsed public key trusted for sigstore signatures (or for Rekor SETs). */
export interface SigstorePublicKey {
  /** The key. */
  readonly key: KeyObject
  /** Its SubjectPublicKeyInfo DER, as Go's `x509.MarshalPKIXPublicKey` would write it. */
  readonly spki: Uint8Array
  /** What it is, for messages: `ECDSA P-256 key sha256:1a2b…` (fingerprint of the SPKI). */
  readonly description: string
  /** SHA-256 of {@link spki}, lower-case hex. */
  readonly fingerprint: string
}

const EC_CURVES: ReadonlyMap<string, string> = new Map([
  ['prime256v1', 'P-256'],
  ['secp384r1', 'P-384'],
  ['secp521r1', 'P-521'],
])
const MIN_RSA_BITS = 2048

function keyError(field: string, message: string, hint: string): MalformedInputError {
  return new MalformedInputError('ERR_SIGSTORE_KEY_INVALID', `${field}: ${message}`, {
    details: { field },
    hint,
  })
}

/** The description and fingerprint of a key: algorithm and SHA-256 of its SPKI. */
function describe(kind: string, spki: Uint8Array): { description: string; fingerprint: string } {
  const fingerprint = bytesToHex(createHash('sha256').update(spki).digest())
  return { description: `${kind} key sha256:${fingerprint.slice(0, 16)}`, fingerprint }
}

/**
 * Wrap a `node:crypto` key after checking it is a kind containers/image verifies with.
 *
 * @throws {@link MalformedInputError} `ERR_SIGSTORE_KEY_UNSUPPORTED`.
 */
export function sigstoreKeyFromKeyObject(key: KeyObject, field: string): SigstorePublicKey {
  const spki = new Uint8Array(key.export({ type: 'spki', format: 'der' }))
  const type = key.asymmetricKeyType
  const unsupported = (what: string): MalformedInputError =>
    new MalformedInputError('ERR_SIGSTORE_KEY_UNSUPPORTED', `${field} is ${what}`, {
      details: { field, keyType: type ?? 'unknown' },
      hint: 'sigstore signatures are verified with ECDSA P-256/P-384/P-521, RSA (2048 bits or more) or Ed25519 keys',
    })
  if (type === 'ec') {
    const curve = EC_CURVES.get(key.asymmetricKeyDetails?.namedCurve ?? '')
    if (curve === undefined) {
      throw unsupported(
        `an EC key on an unsupported curve (${key.asymmetricKeyDetails?.namedCurve ?? 'explicit parameters'})`,
      )
    }
    return { key, spki, ...describe(`ECDSA ${curve}`, spki) }
  }
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
    if (bits < MIN_RSA_BITS) throw unsupported(`an RSA key of only ${bits} bits`)
    return { key, spki, ...describe(`RSA-${bits}`, spki) }
  }
  if (type === 'ed25519') return { key, spki, ...describe('Ed25519', spki) }
  // Go's x509 and sigstore verify no other key types (rsa-pss: an id-RSASSA-PSS SPKI).
  throw unsupported(`a ${type ?? 'non-asymmetric'} key`)
}

/**
 * Parse one PEM public key, as a policy's `keyPath`/`keyData` (or `rekorPublicKey…`) holds it.
 *
 * ```text
 * -----BEGIN PUBLIC KEY-----        SubjectPublicKeyInfo (RFC 5280 §4.1.2.7)
 * -----BEGIN RSA PUBLIC KEY-----    RSAPublicKey (RFC 8017 §A.1.1)
 * ```
 *
 * @example
 * ```ts
 * const key = parseSigstorePublicKey(readFileSync('cosign.pub'), 'keyPath')
 * key.description // 'ECDSA P-256 key sha256:…'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_SIGSTORE_KEY_INVALID` (not one PEM public key),
 *   `ERR_SIGSTORE_KEY_UNSUPPORTED` (a key type or size containers/image does not verify with).
 */
export function parseSigstorePublicKey(pem: Uint8Array, field = 'public key'): SigstorePublicKey {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(pem)
  // Policies name the same few keys for every image: parse each once (bounded, least recently used
  // out).
  return PARSED_KEYS.getOrSet(text, () => parseSigstorePublicKeyText(text, field))
}

/** Keys parsed so far, by PEM text; a parsed key is immutable, so sharing it is safe. */
const PARSED_KEYS = new LruCache<string, SigstorePublicKey>(256)

function parseSigstorePublicKeyText(text: string, field: string): SigstorePublicKey {
  const blocks = readPemBlocks(text, field, 'ERR_SIGSTORE_KEY_INVALID')
  const [block] = blocks
  if (block === undefined) {
    throw keyError(field, 'holds no PEM block', 'give the key as PEM (-----BEGIN PUBLIC KEY-----)')
  }
  if (blocks.length > 1) {
    // Go's pem.Decode would silently use the first block and ignore a second key.
    throw keyError(
      field,
      `holds ${blocks.length} PEM blocks where one key is expected`,
      'put each key in its own file and list them with keyPaths / keyDatas',
    )
  }
  let key: KeyObject
  try {
    if (block.label === 'PUBLIC KEY') {
      key = createPublicKey({ key: Buffer.from(block.der), format: 'der', type: 'spki' })
    } else if (block.label === 'RSA PUBLIC KEY') {
      key = createPublicKey({ key: Buffer.from(block.der), format: 'der', type: 'pkcs1' })
    } else {
      throw keyError(
        field,
        `is a PEM "${block.label}" block, not a public key`,
        'give the public key (cosign.pub), not a private key or a certificate',
      )
    }
  } catch (cause) {
    if (cause instanceof MalformedInputError) throw cause
    throw new MalformedInputError('ERR_SIGSTORE_KEY_INVALID', `${field}: the key does not parse`, {
      cause,
      details: { field, label: block.label },
      hint: 'the PEM holds no valid public key; export it again (cosign public-key)',
    })
  }
  return sigstoreKeyFromKeyObject(key, field)
}

/**
 * Parse the trusted Rekor log keys: PEM public keys that must be ECDSA, since a SET is an ECDSA
 * signature (containers/image: "Rekor public key %d is not using ECDSA").
 *
 * @throws {@link MalformedInputError} `ERR_SIGSTORE_KEY_INVALID`, `ERR_SIGSTORE_KEY_UNSUPPORTED`,
 *   `ERR_REKOR_KEY_UNSUPPORTED`.
 */
export function parseRekorPublicKeys(pems: readonly Uint8Array[]): SigstorePublicKey[] {
  return pems.map((pem, i) => {
    const key = parseSigstorePublicKey(pem, `Rekor public key ${i + 1}`)
    if (key.key.asymmetricKeyType !== 'ec') {
      throw new MalformedInputError(
        'ERR_REKOR_KEY_UNSUPPORTED',
        `Rekor public key ${i + 1} is not an ECDSA key (${key.description})`,
        { details: { index: i + 1 }, hint: 'give the Rekor log key (rekor.pub), an ECDSA key' },
      )
    }
    return key
  })
}

/**
 * True when `signature` starts with what Go's `asn1.Unmarshal` reads as `SEQUENCE { INTEGER,
 * INTEGER, … }`: sigstore then verifies it as DER, and otherwise as IEEE P1363 `r‖s`.
 *
 * @internal exported for the test that holds it to {@link readsAsDerEcdsa}.
 */
export function looksLikeDerEcdsa(signature: Uint8Array): boolean {
  // The usual signature, two short minimal INTEGERs filling a short SEQUENCE, is read by hand:
  // the general reader answers yes for it too, at many times the cost. Anything else (long forms,
  // more elements, any doubt) goes to the general reader.
  const length = signature[1] ?? 0x80
  if (signature[0] === 0x30 && length < 0x80 && 2 + length <= signature.length) {
    const afterR = minimalShortInteger(signature, 2, 2 + length)
    if (afterR > 0 && minimalShortInteger(signature, afterR, 2 + length) === 2 + length) return true
  }
  return readsAsDerEcdsa(signature)
}

/**
 * {@link looksLikeDerEcdsa} by the general DER reader.
 *
 * @internal exported for the test.
 */
export function readsAsDerEcdsa(signature: Uint8Array): boolean {
  if (signature[0] !== 0x30 || signature.length < 2) return false
  const first = signature[1] ?? 0
  let length = first
  let header = 2
  if (first >= 0x80) {
    const octets = first & 0x7f
    if (octets === 0 || octets > 2 || signature.length < 2 + octets) return false
    length = 0
    for (let i = 0; i < octets; i++) length = length * 256 + (signature[2 + i] ?? 0)
    header = 2 + octets
  }
  if (header + length > signature.length) return false
  try {
    const sequence = parseDer(signature.subarray(0, header + length), { maxDepth: 2 })
    const [r, s] = decodeDerSequence(sequence, 'signature')
    decodeDerInteger(r, 'r')
    decodeDerInteger(s, 's')
    return true
  } catch {
    return false
  }
}

/**
 * The offset after a DER INTEGER at `at` with a short-form length, non-empty contents in minimal
 * form and ending by `end`; -1 for anything else.
 */
function minimalShortInteger(bytes: Uint8Array, at: number, end: number): number {
  const length = bytes[at + 1] ?? 0
  if (bytes[at] !== 0x02 || length === 0 || length >= 0x80 || at + 2 + length > end) return -1
  const b0 = bytes[at + 2] ?? 0
  const b1 = bytes[at + 3] ?? 0
  if (length > 1 && ((b0 === 0x00 && b1 < 0x80) || (b0 === 0xff && b1 >= 0x80))) return -1
  return at + 2 + length
}

function derInteger(bytes: Uint8Array): Uint8Array {
  let start = 0
  while (start < bytes.length - 1 && bytes[start] === 0) start++
  const trimmed = bytes.subarray(start)
  const pad = (trimmed[0] ?? 0) >= 0x80 ? [0] : []
  return Uint8Array.from([0x02, trimmed.length + pad.length, ...pad, ...trimmed])
}

/** IEEE P1363 `r‖s` (any even length up to 132 bytes, as Go reads it) as a DER signature. */
function p1363ToDer(signature: Uint8Array): Uint8Array | undefined {
  if (signature.length === 0 || signature.length > 132 || signature.length % 2 !== 0) {
    return undefined
  }
  const half = signature.length / 2
  const body = [...derInteger(signature.subarray(0, half)), ...derInteger(signature.subarray(half))]
  const length = body.length < 0x80 ? [body.length] : [0x81, body.length]
  return Uint8Array.from([0x30, ...length, ...body])
}

/**
 * Verify `signature` over `payload` with one key, as sigstore's verifier for its type does.
 * Never throws for a bad signature; returns false.
 */
export function verifyWithSigstoreKey(
  key: SigstorePublicKey,
  payload: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    const type = key.key.asymmetricKeyType
    if (type === 'ec') {
      const der = looksLikeDerEcdsa(signature) ? signature : p1363ToDer(signature)
      return der !== undefined && verify('sha256', payload, key.key, der)
    }
    if (type === 'rsa') {
      // Go's rsa.VerifyPKCS1v15 wants exactly k bytes; OpenSSL would take a shorter value.
      const k = Math.ceil((key.key.asymmetricKeyDetails?.modulusLength ?? 0) / 8)
      if (signature.length !== k) return false
      return verify(
        'sha256',
        payload,
        { key: key.key, padding: constants.RSA_PKCS1_PADDING },
        signature,
      )
    }
    return type === 'ed25519' && verify(null, payload, key.key, signature)
  } catch {
    // OpenSSL throws for some malformed signatures instead of returning false.
    return false
  }
}
