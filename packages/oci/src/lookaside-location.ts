/**
 * Where in a lookaside store the signatures of an image live: choosing the store from a
 * registries.d configuration (containers/image `docker/registries_d.go` `signatureTopLevel`,
 * `useSigstoreAttachments`) and building the URL of each signature (`lookasideStorageURL`).
 *
 * @module
 */
import { MalformedInputError, UsageError } from '@initguard/core'
import { dockerScopeCandidates, type DockerImageReference } from '@initguard/image-policy'
import type { RegistriesDConfig, RegistriesDSection } from './registries-d.ts'

const DEFAULT_SCOPE = 'default-docker'

/** The lookaside choice for one image, from {@link lookasideFor}. */
export interface LookasideChoice {
  /** The configured store (the top level), when any scope or `default-docker` gives one. */
  readonly lookaside?: URL
  /** The store's directory for the repository: c/image's `lookasideStorageBaseURL`. */
  readonly repositoryBase?: URL
  /** The scope that supplied `lookaside`: a `docker:` key, `default-docker`, or `""` for none. */
  readonly scope: string
  /** The file that supplied `lookaside`, when one did. */
  readonly file?: string
  /** Whether sigstore attachments (cosign `.sig` tags) are read for the image. */
  readonly useSigstoreAttachments: boolean
  /** The scope that supplied `useSigstoreAttachments`, `default-docker`, or `""` (the default false). */
  readonly attachmentsScope: string
}

const DIGEST_HEX_LENGTHS: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
])

/**
 * The lookaside store and attachment setting for `ref`, chosen as containers/image does: the
 * identity (`name:tag` or `name@digest`), the repository, each parent namespace, `host[:port]`,
 * then the `*.`-wildcards of the host. c/image reaches the wildcards because registries.d uses the
 * same namespace list as policy.json (since c/image 5.10), although containers-registries.d(5)
 * does not mention them. Then `default-docker`, then nothing.
 *
 * A matching scope without a `lookaside` does not stop the search: c/image moves on to the next
 * scope, and looks up `use-sigstore-attachments` separately in the same way.
 */
export function lookasideFor(
  config: RegistriesDConfig,
  ref: DockerImageReference,
): LookasideChoice {
  const sections: { scope: string; section: RegistriesDSection }[] = []
  for (const { scope } of dockerScopeCandidates(ref)) {
    const section = config.docker.get(scope)
    if (section !== undefined) sections.push({ scope, section })
  }
  if (config.defaultDocker !== undefined)
    sections.push({ scope: DEFAULT_SCOPE, section: config.defaultDocker })
  const store = sections.find(({ section }) => section.lookaside !== undefined)
  const attachments = sections.find(({ section }) => section.useSigstoreAttachments !== undefined)
  const base: Omit<LookasideChoice, 'scope' | 'lookaside' | 'repositoryBase' | 'file'> = {
    useSigstoreAttachments: attachments?.section.useSigstoreAttachments ?? false,
    attachmentsScope: attachments?.scope ?? '',
  }
  const { lookaside, lookasideText } = store?.section ?? {}
  if (store === undefined || lookaside === undefined || lookasideText === undefined)
    return { ...base, scope: '' }
  return {
    ...base,
    scope: store.scope,
    file: store.section.file,
    lookaside,
    repositoryBase: repositoryBaseURL(lookaside, lookasideText, ref.path),
  }
}

/**
 * c/image appends `"/" + repository path` to the URL's path. Go keeps an empty path empty
 * (`https://host` → `https://host/repo`), while WHATWG URLs turn it into `/`, which would give
 * `//repo`; so look at the text to tell `https://host` from `https://host/`.
 */
function repositoryBaseURL(lookaside: URL, text: string, repositoryPath: string): URL {
  const emptyPath = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(?:[?#]|$)/u.test(text)
  const url = new URL(lookaside.href)
  url.pathname = `${emptyPath ? '' : lookaside.pathname}/${repositoryPath}`
  return url
}

/**
 * The URL of signature `n` (1, 2, …) of the manifest `manifestDigest` under `repositoryBase`
 * ({@link LookasideChoice.repositoryBase}): `<base>/<repository path>@<algo>=<hex>/signature-<n>`,
 * as c/image's `lookasideStorageURL` writes it. `@` and `=` stay literal in the path.
 *
 * @throws {@link MalformedInputError} `ERR_LOOKASIDE_DIGEST`; {@link UsageError} `ERR_LOOKASIDE_INDEX`.
 */
export function lookasideSignatureURL(repositoryBase: URL, manifestDigest: string, n: number): URL {
  const colon = manifestDigest.indexOf(':')
  const algorithm = manifestDigest.slice(0, colon)
  const hex = manifestDigest.slice(colon + 1)
  // c/image validates the digest first so that nothing like `../` can reach the path.
  if (
    colon === -1 ||
    hex.length !== DIGEST_HEX_LENGTHS.get(algorithm) ||
    !/^[a-f0-9]+$/u.test(hex)
  ) {
    throw new MalformedInputError(
      'ERR_LOOKASIDE_DIGEST',
      'the manifest digest is not sha256, sha384 or sha512 with lower-case hex',
      {
        details: { length: manifestDigest.length },
        hint: 'pass the digest exactly as the registry reports it, e.g. sha256:<64 hex>',
      },
    )
  }
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError('ERR_LOOKASIDE_INDEX', `signature numbers start at 1; got ${String(n)}`, {
      hint: 'pass 1 for signature-1, 2 for signature-2, and so on',
    })
  }
  const url = new URL(repositoryBase.href)
  url.pathname = `${repositoryBase.pathname}@${algorithm}=${hex}/signature-${n}`
  return url
}
