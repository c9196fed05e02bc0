/**
 * Finding every signature of an image in a registry: simple signing signatures in the lookaside
 * store that registries.d names, and cosign signatures attached to the registry under the tag
 * `sha256-<hex>.sig` (only when registries.d sets `use-sigstore-attachments`, as containers/image
 * does). Nothing here is verified; the policy decision does that.
 *
 * @module
 */
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { MalformedInputError, isInitguardError } from '@initguard/core'
import {
  decodeSignatureBlob,
  type DockerImageReference,
  type ImageSignature,
} from '@initguard/image-policy'
import { lookasideFor, redactUrl, type RegistriesDConfig } from './registries-d.ts'
import { readLookasideSignatures, type LookasideReadOptions } from './lookaside.ts'
import type { RegistryClient } from './registry-client.ts'
import type { Repository } from './registry-transport.ts'
import { MAX_IMAGE_SIGNATURES, MAX_SIGNATURE_SIZE } from './signature-limits.ts'

/** Where the signatures of an image were looked for. */
export interface SignatureSources {
  /** The lookaside store's repository directory, when registries.d configures one. */
  readonly lookaside: string | undefined
  /** The registries.d scope that chose the store. */
  readonly lookasideScope: string
  /** The attachment tag read, when attachments are enabled. */
  readonly attachmentTag: string | undefined
}

/** Options of {@link findImageSignatures}. */
export interface FindSignaturesOptions extends LookasideReadOptions {
  /**
   * The store read when registries.d names none for the image. containers/image falls back to
   * `file:///var/lib/containers/sigstore` (root) or `~/.local/share/containers/sigstore`; pass
   * {@link defaultLookasideStore}`()` for the same, or leave undefined to read no store.
   */
  readonly defaultLookaside?: URL
  /**
   * The manifest digest whose cosign attachment (`sha256-<hex>.sig`) is read; default the
   * manifest digest. image-rs reads the attachment of the digest the reference resolves to, the
   * list's for a multi-platform image.
   */
  readonly attachmentDigest?: string
}

/** containers/image's built-in lookaside store for this user. */
export function defaultLookasideStore(
  uid: number = process.getuid?.() ?? 0,
  home: string = process.env['HOME'] ?? '/root',
): URL {
  return uid === 0
    ? new URL('file:///var/lib/containers/sigstore')
    : pathToFileURL(join(home, '.local/share/containers/sigstore'))
}

/** The signatures found and where they were looked for. */
export interface FoundSignatures {
  readonly signatures: readonly ImageSignature[]
  readonly sources: SignatureSources
}

/** The cosign attachment tag of a manifest digest: `sha256:<hex>` → `sha256-<hex>.sig`. */
export function sigstoreAttachmentTag(manifestDigest: string): string {
  return `${manifestDigest.replace(':', '-')}.sig`
}

async function attachedSignatures(
  client: RegistryClient,
  repository: Repository,
  tag: string,
): Promise<ImageSignature[]> {
  let attachment
  try {
    attachment = await client.getManifest(repository, tag)
  } catch (error) {
    if (isInitguardError(error) && error.code === 'ERR_REGISTRY_NOT_FOUND') return []
    throw error
  }
  if (attachment.manifest.kind !== 'image') {
    throw new MalformedInputError(
      'ERR_SIGSTORE_ATTACHMENT',
      `the signature attachment ${tag} is an index, not an image manifest`,
      { details: { tag }, hint: 'the attachment was not written by cosign or containers/image' },
    )
  }
  const layers = attachment.manifest.layers
  if (layers.length > MAX_IMAGE_SIGNATURES) {
    throw new MalformedInputError(
      'ERR_SIGSTORE_ATTACHMENT',
      `the signature attachment ${tag} has ${layers.length} layers, more than ${MAX_IMAGE_SIGNATURES}`,
      { details: { tag }, hint: 'prune old signatures from the attachment' },
    )
  }
  const signatures: ImageSignature[] = []
  for (const [index, layer] of layers.entries()) {
    const payload = await client.fetchBlob(repository, layer, {
      maxSize: MAX_SIGNATURE_SIZE,
    })
    signatures.push({
      format: 'sigstore',
      source: `attachment ${tag} layer ${index}`,
      mediaType: layer.mediaType,
      signature: { payload, annotations: new Map(Object.entries(layer.annotations ?? {})) },
    })
  }
  return signatures
}

/**
 * Find the signatures of the manifest `manifestDigest` of `reference`.
 *
 * @throws the lookaside reader's and the registry client's errors, and
 *   {@link MalformedInputError} `ERR_SIGNATURE_BLOB_FORMAT` for a stored blob of neither format.
 */
export async function findImageSignatures(
  client: RegistryClient,
  reference: DockerImageReference,
  manifestDigest: string,
  registriesD: RegistriesDConfig,
  options: FindSignaturesOptions = {},
): Promise<FoundSignatures> {
  const choice = lookasideFor(registriesD, reference)
  const signatures: ImageSignature[] = []
  const fallback = options.defaultLookaside
  const store =
    choice.repositoryBase ??
    (fallback === undefined
      ? undefined
      : new URL(`${fallback.href.replace(/\/+$/, '')}/${reference.path}`))
  if (store !== undefined) {
    for (const found of await readLookasideSignatures(store, manifestDigest, options)) {
      signatures.push(decodeSignatureBlob(found.bytes, `lookaside ${found.url}`))
    }
  }
  const attachmentTag = choice.useSigstoreAttachments
    ? sigstoreAttachmentTag(options.attachmentDigest ?? manifestDigest)
    : undefined
  if (attachmentTag !== undefined) {
    const repository = { registry: reference.domain, path: reference.path }
    signatures.push(...(await attachedSignatures(client, repository, attachmentTag)))
  }
  return {
    signatures,
    sources: {
      lookaside: store === undefined ? undefined : redactUrl(store),
      lookasideScope:
        choice.repositoryBase !== undefined
          ? choice.scope
          : store !== undefined
            ? 'built-in default'
            : '',
      attachmentTag,
    },
  }
}
