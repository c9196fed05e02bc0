/**
 * A synthetic sigstore world for tests: cosign signing keys (ECDSA P-256/P-384, RSA, Ed25519), a
 * Rekor log key with hashedrekord entries and signed entry timestamps (SETs), a Fulcio-shaped CA
 * (root → intermediate → short-lived leaf with the OIDC issuer extensions and an email SAN), and
 * complete cosign signatures (payload + annotations) as a registry `.sig` layer or a `dir:` image
 * carries them.
 *
 * ```text
 * payload       {"critical":{"identity":{"docker-reference":R},"image":{"docker-manifest-digest":D},
 *                "type":"cosign container image signature"},"optional":null}
 * signature     base64(Sign(key, payload))            ECDSA/RSA PKCS#1 v1.5 over SHA-256, Ed25519
 * bundle        {"SignedEntryTimestamp":b64(ECDSA(rekorKey, SHA-256(JCS(Payload)))),
 *                "Payload":{"body":b64(hashedrekord),"integratedTime":T,"logIndex":N,"logID":hex}}
 * ```
 *
 * Pure: keys come from `node:crypto`; every time comes in as an argument.
 *
 * @see containers/image `signature/internal/rekor_set.go`, `signature/fulcio_cert.go`.
 * @module
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { bytesToBase64, bytesToHex, canonicalizeJsonToBytes, UsageError } from '@initguard/core'
import type { TestKeyPair } from './amd-pki-types.ts'
import { subjectPublicKeyInfoDer, derToPem } from './x509-builder.ts'

/** A signing key type cosign and containers/image support. */
export type SigstoreKeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa' | 'ed25519'

/** The annotation keys of a cosign signature. */
export const COSIGN_ANNOTATION = {
  signature: 'dev.cosignproject.cosign/signature',
  bundle: 'dev.sigstore.cosign/bundle',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
} as const

/**
 * Generate a key pair of `algorithm` (RSA: 2048 bits unless `rsaBits` says otherwise).
 *
 * @example
 * ```ts
 * const keys = generateSigstoreKeyPair('ecdsa-p256') // what `cosign generate-key-pair` makes
 * ```
 */
export function generateSigstoreKeyPair(
  algorithm: SigstoreKeyAlgorithm,
  rsaBits = 2048,
): TestKeyPair {
  switch (algorithm) {
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' })
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: rsaBits })
    case 'ed25519':
      return generateKeyPairSync('ed25519')
  }
}

/** The PEM `PUBLIC KEY` (SPKI) of a key, as bytes: what `cosign.pub` holds. */
export function publicKeyPem(key: KeyObject): Uint8Array {
  return new TextEncoder().encode(derToPem(subjectPublicKeyInfoDer(key), 'PUBLIC KEY'))
}

/**
 * Sign payload bytes as cosign does with this key: ECDSA (DER) or RSASSA-PKCS1-v1_5 over SHA-256,
 * or pure Ed25519.
 *
 * @throws {@link UsageError} `ERR_SIGSTORE_BUILD_KEY` for another key type or a public key.
 */
export function signSigstorePayload(privateKey: KeyObject, payload: Uint8Array): Uint8Array {
  if (privateKey.type !== 'private') {
    throw new UsageError('ERR_SIGSTORE_BUILD_KEY', 'signing needs a private key')
  }
  const type = privateKey.asymmetricKeyType
  if (type === 'ec' || type === 'rsa') return new Uint8Array(sign('sha256', payload, privateKey))
  if (type === 'ed25519') return new Uint8Array(sign(null, payload, privateKey))
  throw new UsageError('ERR_SIGSTORE_BUILD_KEY', `cannot sign with a ${type ?? 'unknown'} key`)
}

/**
 * A cosign simple-signing payload for `dockerReference` at `manifestDigest`, byte for byte as
 * cosign writes it (no spaces, `"optional":null`).
 */
export function cosignPayload(manifestDigest: string, dockerReference: string): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': manifestDigest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  )
}

/** A Rekor transparency log's signing key. */
export interface RekorTestLog {
  /** The log's ECDSA key pair. */
  readonly keyPair: TestKeyPair
  /** `rekor.pub`: the PEM public key. */
  readonly publicKeyPem: Uint8Array
  /** The log ID: SHA-256 of the public key's SPKI DER, lower-case hex. */
  readonly logId: string
}

/** Create a Rekor log key (ECDSA P-256, like the public Rekor instance). */
export function createRekorTestLog(keyPair?: TestKeyPair): RekorTestLog {
  const keys = keyPair ?? generateSigstoreKeyPair('ecdsa-p256')
  return {
    keyPair: keys,
    publicKeyPem: publicKeyPem(keys.publicKey),
    logId: bytesToHex(
      createHash('sha256').update(subjectPublicKeyInfoDer(keys.publicKey)).digest(),
    ),
  }
}

/** What a hashedrekord entry body holds, with fields to alter for negative tests. */
export interface HashedRekordFields {
  /** The signature bytes the entry records. */
  readonly signature: Uint8Array
  /** The payload whose SHA-256 the entry records. */
  readonly payload: Uint8Array
  /** The PEM public key or certificate the entry records. */
  readonly publicKeyOrCertificatePem: string | Uint8Array
  /** Default `hashedrekord`. */
  readonly kind?: string
  /** Default `0.0.1`. */
  readonly apiVersion?: string
  /** Default `sha256`. */
  readonly hashAlgorithm?: string
  /** Default the hex SHA-256 of `payload`. */
  readonly hashValue?: string
}

/**
 * A Rekor `hashedrekord` v0.0.1 entry body (the JSON that `Payload.body` holds in base64).
 *
 * @example
 * ```ts
 * buildHashedRekordBody({ signature, payload, publicKeyOrCertificatePem: publicKeyPem(key) })
 * ```
 */
export function buildHashedRekordBody(fields: HashedRekordFields): Uint8Array {
  const pem =
    typeof fields.publicKeyOrCertificatePem === 'string'
      ? new TextEncoder().encode(fields.publicKeyOrCertificatePem)
      : fields.publicKeyOrCertificatePem
  return new TextEncoder().encode(
    JSON.stringify({
      apiVersion: fields.apiVersion ?? '0.0.1',
      kind: fields.kind ?? 'hashedrekord',
      spec: {
        data: {
          hash: {
            algorithm: fields.hashAlgorithm ?? 'sha256',
            value: fields.hashValue ?? createHash('sha256').update(fields.payload).digest('hex'),
          },
        },
        signature: {
          content: bytesToBase64(fields.signature),
          publicKey: { content: bytesToBase64(pem) },
        },
      },
    }),
  )
}

/** Options for {@link buildRekorBundle}. */
export interface RekorBundleOptions {
  /** The log whose key signs the SET. */
  readonly log: RekorTestLog
  /** The entry body (from {@link buildHashedRekordBody}). */
  readonly body: Uint8Array
  /** `integratedTime` (whole seconds are written; the fraction is dropped). */
  readonly integratedTime: Date
  /** `logIndex`. Default 1. */
  readonly logIndex?: number
  /** `logID` to write instead of the log's own. */
  readonly logId?: string
  /** A key to sign the SET with instead of the log's (a forged SET). */
  readonly signingKey?: KeyObject
}

/**
 * A cosign `dev.sigstore.cosign/bundle` annotation: the SET over the canonical Payload, signed
 * with the log key (ECDSA, SHA-256, DER).
 */
export function buildRekorBundle(options: RekorBundleOptions): string {
  const payload = {
    body: bytesToBase64(options.body),
    integratedTime: Math.floor(options.integratedTime.getTime() / 1000),
    logIndex: options.logIndex ?? 1,
    logID: options.logId ?? options.log.logId,
  }
  const set = sign(
    'sha256',
    canonicalizeJsonToBytes(payload),
    options.signingKey ?? options.log.keyPair.privateKey,
  )
  return JSON.stringify({ SignedEntryTimestamp: bytesToBase64(set), Payload: payload })
}

/** Options for {@link buildCosignSignature}. */
export interface CosignSignatureOptions {
  /** The manifest digest the payload names, `sha256:<hex>`. */
  readonly manifestDigest: string
  /** The identity the payload names (cosign writes the repository only). */
  readonly dockerReference: string
  /** The signing key pair (for Fulcio, the leaf's). */
  readonly keyPair: TestKeyPair
  /** For a Fulcio signature: the leaf PEM and the chain annotation (intermediates, then root). */
  readonly certificate?: { readonly pem: string; readonly chainPem?: string }
  /** Log the signature in this Rekor log at this time. */
  readonly rekor?: {
    readonly log: RekorTestLog
    readonly integratedTime: Date
    readonly logIndex?: number
  }
  /** Payload bytes to sign instead of {@link cosignPayload}'s. */
  readonly payload?: Uint8Array
}

/** A cosign signature as a registry attachment layer carries it. */
export interface CosignTestSignature {
  /** The layer blob: the signed payload. */
  readonly payload: Uint8Array
  /** The layer annotations. */
  readonly annotations: Map<string, string>
  /** The raw signature bytes. */
  readonly signature: Uint8Array
}

/**
 * A complete cosign signature: payload, `signature` annotation, and as asked the Rekor `bundle`
 * (a hashedrekord entry naming the key, or the certificate) and the Fulcio `certificate` and
 * `chain`.
 *
 * @example
 * ```ts
 * const keys = generateSigstoreKeyPair('ecdsa-p256')
 * const sig = buildCosignSignature({ manifestDigest: 'sha256:…', dockerReference: 'quay.io/a/b', keyPair: keys })
 * ```
 */
export function buildCosignSignature(options: CosignSignatureOptions): CosignTestSignature {
  const payload = options.payload ?? cosignPayload(options.manifestDigest, options.dockerReference)
  const signature = signSigstorePayload(options.keyPair.privateKey, payload)
  const annotations = new Map<string, string>([
    [COSIGN_ANNOTATION.signature, bytesToBase64(signature)],
  ])
  const certificate = options.certificate
  if (certificate !== undefined) {
    annotations.set(COSIGN_ANNOTATION.certificate, certificate.pem)
    if (certificate.chainPem !== undefined)
      annotations.set(COSIGN_ANNOTATION.chain, certificate.chainPem)
  }
  if (options.rekor !== undefined) {
    const body = buildHashedRekordBody({
      signature,
      payload,
      publicKeyOrCertificatePem: certificate?.pem ?? publicKeyPem(options.keyPair.publicKey),
    })
    annotations.set(
      COSIGN_ANNOTATION.bundle,
      buildRekorBundle({
        log: options.rekor.log,
        body,
        integratedTime: options.rekor.integratedTime,
        ...(options.rekor.logIndex === undefined ? {} : { logIndex: options.rekor.logIndex }),
      }),
    )
  }
  return { payload, annotations, signature }
}

/**
 * The `dir:` image `signature-N` file of a sigstore signature, as containers/image writes it:
 * `0x00`, `sigstore-json`, a newline, then `{"mimeType","payload","annotations"}`.
 */
export function encodeDirSigstoreSignature(
  signature: { readonly payload: Uint8Array; readonly annotations: ReadonlyMap<string, string> },
  mimeType = 'application/vnd.dev.cosign.simplesigning.v1+json',
): Uint8Array {
  const json = JSON.stringify({
    mimeType,
    payload: bytesToBase64(signature.payload),
    annotations: Object.fromEntries(signature.annotations),
  })
  return new TextEncoder().encode(`\x00sigstore-json\n${json}`)
}
