/**
 * The policy decision for an image in a registry: select the policy scope, resolve the reference
 * to its manifest (checked against its digest), read the key files that scope names, find the
 * image's signatures when a requirement needs them, and decide. Nothing of the image beyond its
 * manifests is downloaded.
 *
 * What is fetched depends on the scope: a scope holding `reject` refuses every image, so nothing
 * is (not even the manifest); `insecureAcceptAnything` alone needs no signatures, but the manifest
 * is still fetched, as containers/image opens the image (and reads its manifest) before it asks the
 * policy: an image that does not exist is an error, not "accepted", and the report names the
 * digest that was accepted.
 *
 * @module
 */
import { UsageError, isInitguardError } from '@initguard/core'
import {
  decideRejectingScope,
  decideScope,
  lookupDockerScope,
  parseDockerImageReference,
  type DockerImageReference,
  type ImagePolicy,
  type KeySource,
  type PolicyDecision,
  type PolicyDialect,
  type PolicyRequirement,
} from '@initguard/image-policy'
import { fileURLToPath } from 'node:url'
import { readInput } from '@initguard/files'
import { computeDigest, type Platform } from './oci-manifest.ts'
import { DEFAULT_PLATFORM, chooseIndexEntry } from './oci-platform-choice.ts'
import type { RegistriesDConfig } from './registries-d.ts'
import {
  RegistryClient,
  type FetchedManifest,
  type RegistryClientOptions,
} from './registry-client.ts'
import {
  findImageSignatures,
  type FindSignaturesOptions,
  type SignatureSources,
} from './image-signatures.ts'

/** Largest key, keyring or CA file a policy may name: 1 MiB. */
export const MAX_KEY_FILE_SIZE: number = 1024 * 1024

/** Options of {@link checkImage}. */
export interface CheckImageOptions extends RegistryClientOptions, FindSignaturesOptions {
  readonly policy: ImagePolicy
  /** registries.d configuration (lookaside stores, attachments); default none. */
  readonly registriesD?: RegistriesDConfig
  /** The time signatures and keys are judged at; default now. */
  readonly now?: Date
  /** A client to reuse (its options win over the ones given here). */
  readonly client?: RegistryClient
  /**
   * Where the decision reads the key files the policy names; default {@link loadKeyFiles} (local
   * files; `kbs:///…` refused). The guest agent passes its own, which has fetched `kbs:///…` keys
   * through its attested KBS session.
   */
  readonly readKeyFile?: (path: string) => Uint8Array
}

/** An image checked against a policy. */
export interface CheckedImage {
  readonly reference: DockerImageReference
  /**
   * The manifest the reference names (an index or manifest list when the image has one);
   * undefined when the scope's `reject` refused the image before anything was fetched.
   */
  readonly topManifest: FetchedManifest | undefined
  /** The image manifest for the platform (the top manifest when there is no list); as above. */
  readonly imageManifest: FetchedManifest | undefined
  readonly platform: Platform | undefined
  /** Where signatures were looked for; undefined when no requirement needed them. */
  readonly signatureSources: SignatureSources | undefined
  readonly decision: PolicyDecision
}

function keyPaths(source: KeySource): readonly string[] {
  if (source.kind === 'keyPath') return [source.path]
  if (source.kind === 'keyPaths') return source.paths
  return []
}

/** Every file a requirement list names: key files, keyrings, Fulcio CAs, PKI roots, Rekor keys. */
export function requirementFiles(requirements: readonly PolicyRequirement[]): string[] {
  const files: string[] = []
  for (const requirement of requirements) {
    if (requirement.type === 'signedBy') files.push(...keyPaths(requirement.keySource))
    if (requirement.type !== 'sigstoreSigned') continue
    const source = requirement.keySource
    if (source.kind === 'fulcio') {
      if (source.ca.kind === 'caPath') files.push(source.ca.path)
    } else if (source.kind === 'pki') {
      for (const certificates of [source.caRoots, source.caIntermediates])
        if (certificates?.kind === 'path') files.push(certificates.path)
    } else files.push(...keyPaths(source))
    if (requirement.rekorPublicKeys !== undefined)
      files.push(...keyPaths(requirement.rekorPublicKeys))
  }
  return [...new Set(files)]
}

/**
 * Read the files a requirement list names up front, so the (pure) decision can look them up. A
 * file that cannot be read is remembered with its error: containers/image rejects the
 * requirement then, and so do we.
 */
export async function loadKeyFiles(
  paths: readonly string[],
  dialect: PolicyDialect,
): Promise<(path: string) => Uint8Array> {
  const files = new Map<string, Uint8Array | Error>()
  for (const path of paths) {
    if (/^kbs(\+[a-z]+)?:\/\//i.test(path)) {
      files.set(
        path,
        new UsageError('ERR_KEY_PATH_NEEDS_AGENT', `the key ${path} is a KBS resource`, {
          details: { path },
          hint: 'KBS keys are fetched only inside the guest, by `initguard agent pull-image`; to check on the host, put the key inline (keyData) in the policy',
        }),
      )
      continue
    }
    // image-rs resolves keyPath as a resource URI (file://…); containers/image opens the string
    // as a path, so there `file:///k.gpg` is a relative path that does not exist.
    const local = dialect === 'image-rs' && path.startsWith('file://') ? fileURLToPath(path) : path
    try {
      files.set(
        path,
        await readInput(local, { what: 'policy key file', maxSize: MAX_KEY_FILE_SIZE }),
      )
    } catch (error) {
      if (!isInitguardError(error)) throw error
      files.set(path, error)
    }
  }
  return (path) => {
    const file = files.get(path)
    if (file === undefined)
      throw new UsageError('ERR_KEY_FILE_NOT_LOADED', `the key file ${path} was not loaded`)
    if (file instanceof Error) throw file
    return file
  }
}

/**
 * Decide whether `policy` allows the image `reference` (`host/path:tag` or `host/path@digest`).
 *
 * @throws the registry client's errors when the manifest cannot be fetched or does not match its
 *   digest; the lookaside and attachment readers' errors when a requirement needs signatures and
 *   they cannot be read. A refusal by the policy is not thrown: see `decision.accepted`.
 */
export async function checkImage(
  reference: string | DockerImageReference,
  options: CheckImageOptions,
): Promise<CheckedImage> {
  const ref = typeof reference === 'string' ? parseDockerImageReference(reference) : reference
  const scope = lookupDockerScope(options.policy, ref)
  const rejected = decideRejectingScope(scope, { reference: ref }, options.policy.dialect)
  if (rejected !== undefined) {
    return {
      reference: ref,
      topManifest: undefined,
      imageManifest: undefined,
      platform: undefined,
      signatureSources: undefined,
      decision: rejected,
    }
  }
  const client = options.client ?? new RegistryClient(options)
  const repository = { registry: ref.domain, path: ref.path }
  const topManifest = await client.getManifest(repository, ref.digest ?? ref.tag ?? 'latest')
  let imageManifest = topManifest
  let platform: Platform | undefined
  if (topManifest.manifest.kind === 'index') {
    const { entry, fetched } = await chooseIndexEntry(
      topManifest.manifest,
      options.platform ?? DEFAULT_PLATFORM,
      (e) => client.getManifest(repository, e.digest, e),
    )
    imageManifest = fetched
    platform = entry.platform
  }
  const needsSignatures = scope.requirements.some(
    (r) => r.type === 'signedBy' || r.type === 'sigstoreSigned',
  )
  const dialect = options.policy.dialect
  const fromList = imageManifest !== topManifest
  // containers/image checks the signatures of the platform's manifest, found by its sha256
  // digest whatever digest the reference used; image-rs reads cosign attachments of the list.
  const found = needsSignatures
    ? await findImageSignatures(
        client,
        ref,
        computeDigest(imageManifest.bytes),
        options.registriesD ?? { docker: new Map() },
        {
          ...options,
          ...(dialect === 'image-rs' && fromList
            ? { attachmentDigest: computeDigest(topManifest.bytes) }
            : {}),
        },
      )
    : undefined
  const decision = await decideScope(
    scope,
    {
      reference: ref,
      manifest: imageManifest.bytes,
      ...(fromList ? { listManifest: topManifest.bytes } : {}),
      signatures: found?.signatures ?? [],
    },
    dialect,
    {
      now: options.now ?? new Date(),
      readKeyFile:
        options.readKeyFile ?? (await loadKeyFiles(requirementFiles(scope.requirements), dialect)),
    },
  )
  return {
    reference: ref,
    topManifest,
    imageManifest,
    platform,
    signatureSources: found?.sources,
    decision,
  }
}
