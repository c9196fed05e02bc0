/**
 * Images in an OCI image layout (`oci:DIR[:REF]`, what `skopeo copy … oci:DIR:REF` writes),
 * checked against a policy as containers/image does: the scope is the layout directory (with
 * symbolic links resolved; the `:REF` part is not part of the identity), then each parent
 * directory, then `transports.oci[""]`, then `default`. An OCI layout carries no signatures, so
 * only `insecureAcceptAnything` accepts it.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalIoError, MalformedInputError } from '@initguard/core'
import {
  decideScope,
  lookupScope,
  pathScopeCandidates,
  type ImagePolicy,
  type PolicyDecision,
} from '@initguard/image-policy'
import { resolveImageDirectory } from './dir-image.ts'
import { loadKeyFiles, requirementFiles } from './image-check.ts'
import {
  computeDigest,
  nonIntegerLiteral,
  parseDescriptor,
  type Descriptor,
} from './oci-manifest.ts'

const REF_NAME = 'org.opencontainers.image.ref.name'
const MAX_LAYOUT_FILE = 4 * 1024 * 1024

/** An OCI layout image checked against a policy. */
export interface CheckedOciLayoutImage {
  /** The layout directory with symbolic links resolved: the policy identity. */
  readonly path: string
  /** The manifest `REF` names (or the only one). */
  readonly descriptor: Descriptor
  readonly decision: PolicyDecision
}

function layoutError(message: string, path: string, hint: string): MalformedInputError {
  return new MalformedInputError('ERR_OCI_LAYOUT', message, { details: { path }, hint })
}

async function readLayoutFile(path: string, what: string): Promise<Uint8Array> {
  try {
    const bytes = await readFile(path)
    if (bytes.length > MAX_LAYOUT_FILE)
      throw layoutError(`${what} is too large`, path, 'this is not an OCI layout')
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
  } catch (cause) {
    if (cause instanceof MalformedInputError) throw cause
    throw new LocalIoError('ERR_OCI_LAYOUT_READ', `cannot read ${what} ${path}`, {
      cause,
      details: { path },
      hint: 'give the directory `skopeo copy … oci:DIR:REF` wrote',
    })
  }
}

/** The manifest descriptor `ref` names in the layout's index.json (or the only one, without ref). */
async function findManifest(dir: string, ref: string | undefined): Promise<Descriptor> {
  const indexPath = join(dir, 'index.json')
  let index: unknown
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(
      await readLayoutFile(indexPath, 'index'),
    )
    index = JSON.parse(text)
  } catch (cause) {
    if (cause instanceof LocalIoError || cause instanceof MalformedInputError) throw cause
    throw layoutError('index.json is not JSON', indexPath, 'this is not an OCI layout')
  }
  // containers/image decodes index.json with Go's encoding/json, which refuses `"size": 201.0`.
  const number = nonIntegerLiteral(text)
  if (number !== undefined) {
    throw layoutError(
      `index.json has ${JSON.stringify(number.key)}: ${number.literal}, which Go's JSON decoder refuses for an integer field`,
      indexPath,
      'write sizes as plain integers (201, not 201.0)',
    )
  }
  const manifests = (index as { manifests?: unknown }).manifests
  if (!Array.isArray(manifests))
    throw layoutError('index.json has no manifests list', indexPath, 'this is not an OCI layout')
  const descriptors = manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`))
  const matching =
    ref === undefined ? descriptors : descriptors.filter((d) => d.annotations?.[REF_NAME] === ref)
  const [only] = matching
  if (matching.length !== 1 || only === undefined) {
    throw layoutError(
      ref === undefined
        ? `the layout holds ${descriptors.length} manifests; name one as oci:DIR:REF`
        : `the layout has ${matching.length === 0 ? 'no' : 'more than one'} manifest named ${JSON.stringify(ref)}`,
      indexPath,
      `the names are: ${descriptors.map((d) => d.annotations?.[REF_NAME] ?? '(none)').join(', ')}`,
    )
  }
  return only
}

/**
 * Decide whether `policy` allows the image `reference` (`DIR` or `DIR:REF`, without `oci:`).
 *
 * @throws {@link LocalIoError} `ERR_OCI_LAYOUT_READ`; {@link MalformedInputError}
 *   `ERR_OCI_LAYOUT` (not a layout, no such REF, manifest not matching its digest).
 */
export async function checkOciLayoutImage(
  reference: string,
  policy: ImagePolicy,
  options: { readonly now?: Date } = {},
): Promise<CheckedOciLayoutImage> {
  // containers/image splits at the first colon: the path cannot contain one.
  const colon = reference.indexOf(':')
  const dir = colon === -1 ? reference : reference.slice(0, colon)
  const ref =
    colon === -1 || colon === reference.length - 1 ? undefined : reference.slice(colon + 1)
  const path = await resolveImageDirectory(dir, 'ERR_OCI_LAYOUT_READ', 'oci:DIR:REF')
  const descriptor = await findManifest(path, ref)
  const [algorithm = '', hex = ''] = descriptor.digest.split(':')
  const blobPath = join(path, 'blobs', algorithm, hex)
  const manifest = await readLayoutFile(blobPath, 'manifest')
  if (computeDigest(manifest, algorithm) !== descriptor.digest) {
    throw layoutError(
      `the manifest blob does not match its digest ${descriptor.digest}`,
      blobPath,
      'the layout is damaged',
    )
  }
  const scope = lookupScope(policy, 'oci', pathScopeCandidates(path))
  const decision = await decideScope(
    scope,
    {
      reference: undefined,
      name: `oci:${path}${ref === undefined ? '' : `:${ref}`}`,
      manifest,
      signatures: [],
    },
    policy.dialect,
    {
      now: options.now ?? new Date(),
      readKeyFile: await loadKeyFiles(requirementFiles(scope.requirements), policy.dialect),
    },
  )
  return { path, descriptor, decision }
}
