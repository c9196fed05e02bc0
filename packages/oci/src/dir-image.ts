/**
 * Images in containers/image's `dir:` layout (what `skopeo copy … dir:DIR` writes): the manifest
 * in `manifest.json` and the signatures in `signature-1`, `signature-2`, … (read until the first
 * missing number), each a simple signing blob or a `sigstore-json` attachment.
 *
 * @module
 */
import { readFile, realpath } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalIoError, MalformedInputError } from '@initguard/core'
import {
  decideScope,
  decodeSignatureBlob,
  lookupScope,
  pathScopeCandidates,
  type ImagePolicy,
  type ImageSignature,
  type PolicyDecision,
} from '@initguard/image-policy'
import { loadKeyFiles, requirementFiles } from './image-check.ts'
import { MAX_IMAGE_SIGNATURES, MAX_SIGNATURE_SIZE } from './signature-limits.ts'

/** A `dir:` image's manifest and signatures, unverified. */
export interface DirImage {
  readonly manifest: Uint8Array
  readonly signatures: readonly ImageSignature[]
}

async function readOptional(path: string, what: string): Promise<Uint8Array | undefined> {
  try {
    const bytes = await readFile(path)
    if (bytes.length > MAX_SIGNATURE_SIZE) {
      throw new MalformedInputError(
        'ERR_DIR_IMAGE_TOO_LARGE',
        `${what} ${path} is larger than ${MAX_SIGNATURE_SIZE} bytes`,
        {
          details: { path },
        },
      )
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'ENOENT') return undefined
    if (error instanceof MalformedInputError) throw error
    throw new LocalIoError(
      'ERR_DIR_IMAGE_READ',
      `cannot read ${what} ${path}: ${typeof code === 'string' ? code : 'unknown error'}`,
      {
        cause: error,
        details: { path },
      },
    )
  }
}

/**
 * Read a `dir:` image.
 *
 * @throws {@link LocalIoError} `ERR_DIR_IMAGE_MANIFEST` (no manifest.json), `ERR_DIR_IMAGE_READ`;
 *   {@link MalformedInputError} `ERR_DIR_IMAGE_TOO_LARGE`, `ERR_DIR_IMAGE_TOO_MANY`, and the
 *   signature format errors of `decodeSignatureBlob`.
 */
export async function readDirImage(dir: string): Promise<DirImage> {
  const manifest = await readOptional(join(dir, 'manifest.json'), 'manifest')
  if (manifest === undefined) {
    throw new LocalIoError('ERR_DIR_IMAGE_MANIFEST', `${dir} has no manifest.json`, {
      details: { path: dir },
      hint: 'give a directory written by `skopeo copy … dir:DIR`',
    })
  }
  const signatures: ImageSignature[] = []
  for (let n = 1; ; n++) {
    const path = join(dir, `signature-${n}`)
    const blob = await readOptional(path, 'signature')
    if (blob === undefined) break
    if (n > MAX_IMAGE_SIGNATURES) {
      throw new MalformedInputError(
        'ERR_DIR_IMAGE_TOO_MANY',
        `${dir} has more than ${MAX_IMAGE_SIGNATURES} signatures`,
        {
          details: { path: dir },
        },
      )
    }
    signatures.push(decodeSignatureBlob(blob, `signature-${n}`))
  }
  return { manifest, signatures }
}

/**
 * The real path of a local image directory (its policy identity), or a coded error that says
 * which transport's directory was expected.
 */
export async function resolveImageDirectory(
  dir: string,
  code: 'ERR_DIR_IMAGE_READ' | 'ERR_OCI_LAYOUT_READ',
  form: string,
): Promise<string> {
  try {
    return await realpath(dir)
  } catch (cause) {
    throw new LocalIoError(code, `cannot resolve the image directory ${dir}`, {
      cause,
      details: { path: dir },
      hint: `give the directory \`skopeo copy … ${form}\` wrote`,
    })
  }
}

/** A `dir:` image checked against a policy. */
export interface CheckedDirImage {
  /** The directory with symbolic links resolved: the policy identity of the image. */
  readonly path: string
  readonly image: DirImage
  readonly decision: PolicyDecision
}

/**
 * Decide whether `policy` allows the `dir:` image at `dir`, as `skopeo copy --policy … dir:DIR`
 * does: the scope is the resolved path, then each parent directory, then `transports.dir[""]`,
 * then `default`. The image has no Docker reference, so only `exactReference` and
 * `exactRepository` identities can accept its signatures.
 *
 * @throws everything {@link readDirImage} throws; {@link LocalIoError} `ERR_DIR_IMAGE_READ` when
 *   the directory cannot be resolved.
 */
export async function checkDirImage(
  dir: string,
  policy: ImagePolicy,
  options: { readonly now?: Date } = {},
): Promise<CheckedDirImage> {
  const path = await resolveImageDirectory(dir, 'ERR_DIR_IMAGE_READ', 'dir:DIR')
  const image = await readDirImage(path)
  const scope = lookupScope(policy, 'dir', pathScopeCandidates(path))
  const decision = await decideScope(
    scope,
    {
      reference: undefined,
      name: `dir:${path}`,
      manifest: image.manifest,
      signatures: image.signatures,
    },
    policy.dialect,
    {
      now: options.now ?? new Date(),
      readKeyFile: await loadKeyFiles(requirementFiles(scope.requirements), policy.dialect),
    },
  )
  return { path, image, decision }
}
