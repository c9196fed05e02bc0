/**
 * The two signature requirements, `signedBy` (GPG simple signing) and `sigstoreSigned`
 * (cosign), decided over every signature found for an image. Each signature is verified, its
 * payload parsed strictly, then its signed identity matched (`signedIdentity`) and its manifest
 * digest compared, in containers/image's order and with its words for each refusal.
 *
 * @module
 * @internal
 */
import { isInitguardError, type ErrorCategory } from '@initguard/core'
import type { ImageUnderPolicy } from './policy-decision.ts'
import type {
  CertificatesSource,
  KeySource,
  PolicyDialect,
  SignedByRequirement,
  SigstoreSignedRequirement,
} from './policy.ts'
import {
  parseSignaturePayload,
  type SignaturePayload,
  type SignaturePayloadType,
} from './signature-payload.ts'
import { matchesSignedIdentity } from './signed-identity.ts'
import { manifestMatchesDigest } from './manifest-digest.ts'
import { mergeGpgKeyrings, parseGpgKeyring } from './gpg-keyring.ts'
import { verifySimpleSigning } from './simple-signing.ts'
import { SIGSTORE_SIGNATURE_MIME_TYPE } from './dir-sigstore-signature.ts'
import { type SigstoreSignature, verifySigstoreSignature } from './sigstore-signature.ts'
import { prepareSigstoreTrust, type PreparedSigstoreTrust } from './sigstore-trust.ts'

/** One signature found for an image, with where it came from. */
export type ImageSignature =
  | {
      readonly format: 'simpleSigning'
      /** Where it was found, e.g. `lookaside …/signature-1` or `dir signature-2`. */
      readonly source: string
      /** The OpenPGP signed message. */
      readonly blob: Uint8Array
    }
  | {
      readonly format: 'sigstore'
      readonly source: string
      /** The attachment's media type; only {@link SIGSTORE_SIGNATURE_MIME_TYPE} is a signature. */
      readonly mediaType: string
      readonly signature: SigstoreSignature
    }

/** What became of one signature. */
export interface SignatureVerdict {
  readonly source: string
  readonly format: ImageSignature['format']
  readonly accepted: boolean
  /** Stable code of the refusal (absent when accepted). */
  readonly code?: string
  /** Why it was accepted or refused. */
  readonly reason: string
  /** Who signed: a key fingerprint, a key description or a certificate subject. */
  readonly signer?: string
  /** The identity the signature claims, once its payload verified. */
  readonly signedIdentity?: string
  /** The manifest digest the signature claims, once its payload verified. */
  readonly signedManifestDigest?: string
}

/** What a requirement check needs. */
export interface SignatureCheckContext {
  readonly now: Date
  readonly readKeyFile: (path: string) => Uint8Array
  readonly dialect: PolicyDialect
  readonly image: ImageUnderPolicy
  /** The image's reference as text, for messages. */
  readonly imageName: string
}

/** The verdict part a signature requirement contributes. */
interface RequirementOutcome {
  readonly accepted: boolean
  readonly reason: string
  readonly code?: string
  /**
   * Set when the requirement could not be evaluated because its own trust material is broken
   * (a key file unreadable or not a key): the category of that error.
   */
  readonly keyError?: ErrorCategory
  readonly signatures: readonly SignatureVerdict[]
}

/** A refusal of the requirement as a whole (keys unreadable, no signature at all). */
function refuse(
  code: string,
  reason: string,
  signatures: readonly SignatureVerdict[] = [],
): RequirementOutcome {
  return { accepted: false, code, reason, signatures }
}

/** The refusal of a requirement whose keys cannot be used, with the error's category. */
function keyRefusal(error: unknown, field: string): RequirementOutcome {
  if (!isInitguardError(error)) throw error
  return {
    ...refuse(error.code, `the keys of ${field} cannot be used: ${error.message}`),
    keyError: error.category,
  }
}

function describeError(error: unknown): { code: string; reason: string } {
  if (isInitguardError(error)) return { code: error.code, reason: error.message }
  throw error
}

function keyBytes(source: KeySource, readKeyFile: (path: string) => Uint8Array): Uint8Array[] {
  switch (source.kind) {
    case 'keyPath':
      return [readKeyFile(source.path)]
    case 'keyPaths':
      return source.paths.map((path) => readKeyFile(path))
    case 'keyData':
      return [source.data]
    case 'keyDatas':
      return [...source.data]
  }
}

/**
 * The digest and identity rules of a payload, in containers/image's order (digest, then
 * identity) and words. Returns undefined when both hold, else the refusal. `allowList` lets the
 * payload name the manifest list instead of the image manifest (image-rs, cosign only).
 */
function payloadRefusal(
  payload: SignaturePayload,
  identityRule: SignedByRequirement['signedIdentity'] | undefined,
  context: SignatureCheckContext,
  allowList: boolean,
): { code: string; reason: string } | undefined {
  const { manifest, listManifest } = context.image
  const digestMatches =
    manifestMatchesDigest(manifest, payload.manifestDigest) ||
    (allowList &&
      listManifest !== undefined &&
      manifestMatchesDigest(listManifest, payload.manifestDigest))
  if (!digestMatches) {
    return {
      code: 'ERR_SIGNATURE_MANIFEST_DIGEST',
      reason: `Signature for digest ${payload.manifestDigest} does not match`,
    }
  }
  if (
    identityRule !== undefined &&
    !matchesSignedIdentity(identityRule, context.image.reference, payload.dockerReference)
  ) {
    return {
      code: 'ERR_SIGNATURE_IDENTITY',
      reason: `Signature for identity ${payload.dockerReference} is not accepted`,
    }
  }
  return undefined
}

function summarise(
  verdicts: readonly SignatureVerdict[],
  skipped: { otherFormat: number; nonSignatureAttachments: number } = {
    otherFormat: 0,
    nonSignatureAttachments: 0,
  },
): RequirementOutcome {
  if (verdicts.some((v) => v.accepted)) {
    const accepted = verdicts.find((v) => v.accepted)
    return {
      accepted: true,
      reason: accepted?.reason ?? 'a signature was accepted',
      signatures: verdicts,
    }
  }
  if (verdicts.length === 0) {
    const { otherFormat, nonSignatureAttachments } = skipped
    const counts =
      otherFormat + nonSignatureAttachments === 0
        ? ''
        : ` (${otherFormat} non-sigstore signatures, ${nonSignatureAttachments} sigstore non-signature attachments)`
    return refuse(
      'ERR_IMAGE_SIGNATURE_MISSING',
      `A signature was required, but no signature exists${counts}`,
    )
  }
  const [only] = verdicts
  if (verdicts.length === 1 && only !== undefined) {
    return refuse(only.code ?? 'ERR_IMAGE_SIGNATURE_REFUSED', only.reason, verdicts)
  }
  return refuse(
    'ERR_IMAGE_SIGNATURE_REFUSED',
    `None of the signatures were accepted, reasons: ${verdicts.map((v) => v.reason).join('; ')}`,
    verdicts,
  )
}

/**
 * Verify one signature with `verify`, then hold its payload to the identity and digest rules.
 * Every refusal, thrown or found, becomes the verdict's reason and code.
 */
async function judge(
  base: Pick<SignatureVerdict, 'source' | 'format'>,
  verify: () => Promise<{ readonly signer: string; readonly payloadBytes: Uint8Array }>,
  payloadType: SignaturePayloadType,
  identityRule: SignedByRequirement['signedIdentity'] | undefined,
  context: SignatureCheckContext,
  allowList = false,
): Promise<SignatureVerdict> {
  try {
    const { signer, payloadBytes } = await verify()
    const payload = parseSignaturePayload(payloadBytes, payloadType)
    const claims = {
      signer,
      signedIdentity: payload.dockerReference,
      signedManifestDigest: payload.manifestDigest,
    }
    const refusal = payloadRefusal(payload, identityRule, context, allowList)
    if (refusal !== undefined) return { ...base, ...claims, accepted: false, ...refusal }
    return {
      ...base,
      ...claims,
      accepted: true,
      reason: `signed by ${signer} for ${payload.dockerReference}`,
    }
  } catch (error) {
    return { ...base, accepted: false, ...describeError(error) }
  }
}

/** Decide a `signedBy` requirement: any one GPG simple signing signature must be accepted. */
export async function checkSignedBy(
  requirement: SignedByRequirement,
  field: string,
  context: SignatureCheckContext,
): Promise<RequirementOutcome> {
  if (requirement.keyType !== 'GPGKeys') {
    return refuse(
      'ERR_IMAGE_POLICY_KEY_TYPE_UNIMPLEMENTED',
      `Unimplemented "keyType" value "${requirement.keyType}" in ${field}`,
    )
  }
  let keyring
  try {
    const rings = await Promise.all(
      keyBytes(requirement.keySource, context.readKeyFile).map((bytes, i) =>
        parseGpgKeyring(bytes, `${field}.${requirement.keySource.kind}[${i}]`),
      ),
    )
    keyring = mergeGpgKeyrings(rings)
  } catch (error) {
    return keyRefusal(error, field)
  }
  const verdicts: SignatureVerdict[] = []
  for (const signature of context.image.signatures) {
    if (signature.format !== 'simpleSigning') continue
    const verify = async (): Promise<{ signer: string; payloadBytes: Uint8Array }> => {
      const verified = await verifySimpleSigning(signature.blob, keyring, context.now)
      return { signer: `key ${verified.signerFingerprint}`, payloadBytes: verified.payloadBytes }
    }
    const base = { source: signature.source, format: signature.format }
    verdicts.push(
      await judge(base, verify, 'atomic container signature', requirement.signedIdentity, context),
    )
  }
  return summarise(verdicts)
}

function certificates(
  source: CertificatesSource,
  readKeyFile: (path: string) => Uint8Array,
): Uint8Array {
  return source.kind === 'data' ? source.data : readKeyFile(source.path)
}

/**
 * The requirement's trust material, read and parsed before any signature is looked at: a key
 * file that cannot be read or is not a key makes the requirement fail as a whole, with that
 * error's category, whether or not the image has signatures.
 */
function sigstoreTrust(
  requirement: SigstoreSignedRequirement,
  readKeyFile: (path: string) => Uint8Array,
): PreparedSigstoreTrust {
  const rekorPublicKeys =
    requirement.rekorPublicKeys === undefined
      ? undefined
      : keyBytes(requirement.rekorPublicKeys, readKeyFile)
  const source = requirement.keySource
  switch (source.kind) {
    case 'fulcio': {
      const caCertificates =
        source.ca.kind === 'caData' ? source.ca.data : readKeyFile(source.ca.path)
      const { oidcIssuer, subjectEmail } = source
      return prepareSigstoreTrust({
        fulcio: { caCertificates, oidcIssuer, subjectEmail },
        rekorPublicKeys,
      })
    }
    case 'pki':
      return prepareSigstoreTrust({
        pki: {
          caRoots: certificates(source.caRoots, readKeyFile),
          caIntermediates:
            source.caIntermediates === undefined
              ? undefined
              : certificates(source.caIntermediates, readKeyFile),
          subjectEmail: source.subjectEmail,
          subjectHostname: source.subjectHostname,
        },
        rekorPublicKeys,
      })
    case 'keyPath':
    case 'keyPaths':
    case 'keyData':
    case 'keyDatas':
      return prepareSigstoreTrust({ publicKeys: keyBytes(source, readKeyFile), rekorPublicKeys })
  }
}

/**
 * The identity rule a sigstore signature is held to. image-rs allows only `matchRepository` and
 * `exactRepository` (cosign signs repository-only identities) and skips the check when the policy
 * gives none; containers/image applies the rule, defaulting to `matchRepoDigestOrExact`.
 */
function sigstoreIdentityRule(
  requirement: SigstoreSignedRequirement,
  context: SignatureCheckContext,
): SignedByRequirement['signedIdentity'] | undefined | 'denied' {
  if (context.dialect !== 'image-rs') return requirement.signedIdentity
  if (!requirement.signedIdentityGiven) return undefined
  const { type } = requirement.signedIdentity
  return type === 'matchRepository' || type === 'exactRepository'
    ? requirement.signedIdentity
    : 'denied'
}

/** Decide a `sigstoreSigned` requirement: any one sigstore signature must be accepted. */
export async function checkSigstoreSigned(
  requirement: SigstoreSignedRequirement,
  field: string,
  context: SignatureCheckContext,
): Promise<RequirementOutcome> {
  const identityRule = sigstoreIdentityRule(requirement, context)
  if (identityRule === 'denied') {
    return refuse(
      'ERR_IMAGE_POLICY_IDENTITY_DENIED',
      `Denied by ${field}: image-rs allows only matchRepository and exactRepository as the signedIdentity of sigstoreSigned, not ${requirement.signedIdentity.type}`,
    )
  }
  let trust: PreparedSigstoreTrust
  try {
    trust = sigstoreTrust(requirement, context.readKeyFile)
  } catch (error) {
    return keyRefusal(error, field)
  }
  const verdicts: SignatureVerdict[] = []
  const skipped = { otherFormat: 0, nonSignatureAttachments: 0 }
  for (const signature of context.image.signatures) {
    if (signature.format !== 'sigstore') {
      skipped.otherFormat++
      continue
    }
    if (signature.mediaType !== SIGSTORE_SIGNATURE_MIME_TYPE) {
      skipped.nonSignatureAttachments++
      continue
    }
    const verify = (): Promise<{ signer: string; payloadBytes: Uint8Array }> => {
      const verified = verifySigstoreSignature(signature.signature, trust, context.now)
      return Promise.resolve({
        signer: verified.keyDescription,
        payloadBytes: verified.payloadBytes,
      })
    }
    const base = { source: signature.source, format: signature.format }
    const allowList = context.dialect === 'image-rs'
    verdicts.push(
      await judge(
        base,
        verify,
        'cosign container image signature',
        identityRule,
        context,
        allowList,
      ),
    )
  }
  const outcome = summarise(verdicts, skipped)
  return context.dialect === 'image-rs' && outcome.accepted
    ? imageRsEveryPayload(outcome, identityRule, context)
    : outcome
}

/**
 * image-rs accepts a cosign requirement only when one signature verifies and the payload of
 * every signature layer (verified or not) names the image: identity and digest.
 */
function imageRsEveryPayload(
  outcome: RequirementOutcome,
  identityRule: SignedByRequirement['signedIdentity'] | undefined,
  context: SignatureCheckContext,
): RequirementOutcome {
  for (const signature of context.image.signatures) {
    if (signature.format !== 'sigstore' || signature.mediaType !== SIGSTORE_SIGNATURE_MIME_TYPE)
      continue
    let refusal: { code: string; reason: string } | undefined
    try {
      const payload = parseSignaturePayload(
        signature.signature.payload,
        'cosign container image signature',
      )
      refusal = payloadRefusal(payload, identityRule, context, true)
    } catch (error) {
      refusal = describeError(error)
    }
    if (refusal !== undefined) {
      return refuse(
        refusal.code,
        `image-rs requires every signature to name the image, and ${signature.source} does not: ${refusal.reason}`,
        outcome.signatures,
      )
    }
  }
  return outcome
}
