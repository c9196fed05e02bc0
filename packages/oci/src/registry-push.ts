/**
 * Writing to a registry (monolithic blob uploads and manifest pushes, used by tooling and tests)
 * and listing tags.
 *
 * @module
 */
import {
  MalformedInputError,
  UnavailableError,
  UsageError,
  VerificationError,
} from '@initguard/core'
import { computeDigest, digestAlgorithm, type Descriptor } from './oci-manifest.ts'
import { readLimited, safeUrl, statusError } from './registry-http.ts'
import type { RegistryTransport, Repository } from './registry-transport.ts'

/**
 * Upload a blob in one piece (`POST …/blobs/uploads/`, then `PUT <Location>&digest=…`), unless
 * the registry already has it.
 *
 * Each request within the transport's deadline (`ERR_REGISTRY_DEADLINE`), the upload's for the
 * blob's size.
 *
 * @returns the blob's descriptor (sha256).
 * @throws the transport's errors; {@link UnavailableError} `ERR_REGISTRY_UPLOAD` when the
 *   registry's answers do not follow the protocol.
 */
export async function pushBlob(
  transport: RegistryTransport,
  repository: Repository,
  bytes: Uint8Array,
  mediaType = 'application/octet-stream',
): Promise<Descriptor> {
  const digest = computeDigest(bytes)
  const descriptor: Descriptor = { mediaType, digest, size: bytes.length }
  const what = `upload blob ${digest} to ${repository.registry}/${repository.path}`
  const base = { repository, actions: 'pull,push', what } as const
  const exists = await transport.request(
    { ...base, method: 'HEAD', target: `blobs/${digest}`, deadline: { bytes: 0 } },
    async (r) => {
      await r.discard()
      return r.status === 200
    },
  )
  if (exists) return descriptor
  const location = await transport.request(
    // Starting an upload only opens a session (an abandoned one expires at the registry): safe to
    // repeat, so retried after a 5xx or a broken connection, which a POST otherwise is not.
    {
      ...base,
      method: 'POST',
      target: 'blobs/uploads/',
      idempotent: true,
      deadline: { bytes: 0 },
    },
    async (response) => {
      const { url } = response
      if (response.status !== 202) throw await statusError(response, what)
      await response.discard()
      const header = response.headers.get('location')
      if (header === null)
        throw new UnavailableError(
          'ERR_REGISTRY_UPLOAD',
          `cannot ${what}: the registry gave no upload location`,
          {
            details: { url: safeUrl(url), status: response.status },
            hint: 'the registry does not follow the distribution spec for uploads',
          },
        )
      // Location may be relative and may already carry a query (upload state); keep it.
      return new URL(header, url)
    },
  )
  // Appended by hand: re-serialising through searchParams could re-encode the registry's state.
  location.search = `${location.search === '' ? '?' : `${location.search}&`}digest=${encodeURIComponent(digest)}`
  await transport.request(
    {
      ...base,
      method: 'PUT',
      target: location,
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
      deadline: { bytes: bytes.length },
    },
    async (response) => {
      if (response.status !== 201 && response.status !== 204)
        throw await statusError(response, what)
      await response.discard()
    },
  )
  return descriptor
}

/**
 * Upload a manifest under a tag or its digest.
 *
 * @returns its sha256 digest.
 * @throws {@link UsageError} `ERR_REGISTRY_DIGEST_MISMATCH` when pushed by a digest the bytes do
 *   not have; {@link VerificationError} `ERR_REGISTRY_DIGEST_MISMATCH` when the registry reports
 *   another digest; the transport's errors.
 */
export async function pushManifest(
  transport: RegistryTransport,
  repository: Repository,
  tagOrDigest: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<string> {
  const digest = computeDigest(bytes)
  if (
    tagOrDigest.includes(':') &&
    computeDigest(bytes, digestAlgorithm(tagOrDigest)) !== tagOrDigest
  )
    throw new UsageError(
      'ERR_REGISTRY_DIGEST_MISMATCH',
      `the manifest bytes do not have the digest ${tagOrDigest}`,
      { details: { expected: tagOrDigest, actual: digest } },
    )
  const what = `push the manifest ${repository.registry}/${repository.path}:${tagOrDigest}`
  await transport.request(
    {
      method: 'PUT',
      repository,
      target: `manifests/${tagOrDigest}`,
      headers: { 'content-type': mediaType },
      body: bytes,
      actions: 'pull,push',
      what,
      deadline: { bytes: bytes.length },
    },
    async (response) => {
      const { url } = response
      if (response.status !== 201 && response.status !== 200)
        throw await statusError(response, what)
      await response.discard()
      const served = response.headers.get('docker-content-digest')
      if (served !== null && served.startsWith('sha256:') && served !== digest)
        throw new VerificationError(
          'ERR_REGISTRY_DIGEST_MISMATCH',
          `the registry reports digest ${served} for the manifest pushed, not ${digest}`,
          { details: { url: safeUrl(url), expected: digest, actual: served } },
        )
    },
  )
  return digest
}

/** The most pages of a tag list followed. */
export const MAX_TAG_LIST_PAGES = 100

/** The most bytes of a tag list read, over all its pages: 4 MiB. */
export const MAX_TAG_LIST_BYTES: number = 4 * 1024 * 1024

/**
 * The repository's tags, following `Link: <…>; rel="next"` pages: at most
 * {@link MAX_TAG_LIST_PAGES} pages and {@link MAX_TAG_LIST_BYTES} over all of them, all within the
 * transport's deadline for those bytes (`ERR_REGISTRY_DEADLINE`), so that a registry handing out
 * page after page cannot stretch either. A list longer than that is refused, never cut short.
 *
 * @throws {@link MalformedInputError} `ERR_REGISTRY_TAGS`; the transport's errors.
 */
export async function listTags(
  transport: RegistryTransport,
  repository: Repository,
): Promise<string[]> {
  const what = `list the tags of ${repository.registry}/${repository.path}`
  return transport.withinOneDeadline(what, repository, MAX_TAG_LIST_BYTES, async (signal) => {
    const tags: string[] = []
    let target: string | URL = 'tags/list'
    let budget = MAX_TAG_LIST_BYTES
    for (let page = 0; page < MAX_TAG_LIST_PAGES; page++) {
      const result: { text: string; next: URL | undefined } = await transport.request(
        { method: 'GET', repository, target, actions: 'pull', what, deadline: 'caller', signal },
        async (r) => {
          if (r.status !== 200) throw await statusError(r, what)
          const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(r.headers.get('link') ?? '')?.[1]
          const bytes = await readLimited(
            r,
            budget,
            page === 0
              ? 'tag list'
              : `tag list page ${String(page + 1)} (after ${String(MAX_TAG_LIST_BYTES - budget)} bytes of earlier pages, of the ${String(MAX_TAG_LIST_BYTES)} the whole list may have)`,
            'ERR_REGISTRY_TAGS',
          )
          budget -= bytes.length
          return {
            text: new TextDecoder().decode(bytes),
            next: link === undefined ? undefined : new URL(link, r.url),
          }
        },
      )
      tags.push(...tagsOf(result.text, what, repository))
      if (result.next === undefined) return tags
      target = result.next
    }
    throw new MalformedInputError(
      'ERR_REGISTRY_TAGS',
      `cannot ${what}: the list goes on past ${MAX_TAG_LIST_PAGES} pages`,
      {
        details: { registry: repository.registry, pages: MAX_TAG_LIST_PAGES },
        hint: 'a tag list this long is not plausible; list the tags of a trusted registry only',
      },
    )
  })
}

/** The tags of one page's JSON (`{"tags": [...]}`, `tags` absent or null for none). */
function tagsOf(text: string, what: string, repository: Repository): string[] {
  let list: unknown
  try {
    list = (JSON.parse(text) as { tags?: unknown }).tags ?? []
  } catch {
    list = undefined
  }
  if (!Array.isArray(list) || !list.every((t) => typeof t === 'string'))
    throw new MalformedInputError(
      'ERR_REGISTRY_TAGS',
      `cannot ${what}: the answer is not a tag list`,
      {
        details: { registry: repository.registry },
      },
    )
  return list
}
