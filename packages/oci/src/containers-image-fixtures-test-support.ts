/**
 * Helpers of the containers/image fixture tests: the fixture files (testdata/vectors/image-signatures),
 * `dir:` images made of a fixture manifest and chosen signatures, and an end-to-end policy
 * decision over a `dir:` image at a fixed time.
 *
 * @module
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll } from 'vitest'
import { isInitguardError } from '@initguard/core'
import {
  decideScope,
  parseDockerImageReference,
  parseImagePolicy,
  type PolicyDecision,
} from '@initguard/image-policy'
import { readDirImage } from './dir-image.ts'

export const FIXTURES = fileURLToPath(
  new URL('../../../testdata/vectors/image-signatures/', import.meta.url),
)
export const fixture = (name: string): string => `${FIXTURES}${name}`
export const COSIGN_PUB = fixture('cosign.pub')
export const COSIGN2_PUB = fixture('cosign2.pub')
export const REKOR_PUB = fixture('rekor.pub')
export const FULCIO_CA = fixture('fulcio_v1.crt.pem')
export const PKI_ROOTS = fixture('pki_root_crts.pem')
export const PKI_INTERMEDIATES = fixture('pki_intermediate_crts.pem')
export const GPG_KEY = fixture('public-key.gpg')
export const keyData = (path: string): string => readFileSync(path).toString('base64')
// Upstream signs these with a fixed clock far in the past; keys have no expiry, the PKI
// certificates are valid until 2052 (and are checked at this time, as upstream checks at now).
export const NOW = new Date('2026-11-29T00:00:00Z')

export type Requirement = Record<string, unknown>

/** The `dir:` images made here, some while the tests are collected: removed after them all. */
const madeImages: string[] = []

/** Remove the `dir:` images this test file made, after all its tests. */
export function removeMadeImages(): void {
  afterAll(() => {
    for (const dir of madeImages) rmSync(dir, { recursive: true, force: true })
  })
}

/** A `dir:` image: the manifest of fixture `manifestFrom` and the given signature files. */
export function dirImageWith(manifestFrom: string, signatures: readonly Uint8Array[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'initguard-fixture-'))
  madeImages.push(dir)
  const manifest = fixture(`${manifestFrom}/manifest.json`)
  if (existsSync(manifest)) cpSync(manifest, join(dir, 'manifest.json'))
  signatures.forEach((bytes, i) => {
    writeFileSync(join(dir, `signature-${i + 1}`), bytes)
  })
  return dir
}

/** A fixture's first sigstore signature with its annotations changed (undefined removes one). */
export function changedSigstoreSignature(
  dir: string,
  annotations: Readonly<Record<string, string | undefined>>,
): Uint8Array {
  const bytes = readFileSync(fixture(`${dir}/signature-1`))
  const start = bytes.indexOf(0x0a) + 1
  const json = JSON.parse(bytes.subarray(start).toString()) as {
    annotations: Record<string, string>
  }
  for (const [key, value] of Object.entries(annotations)) {
    if (value === undefined) Reflect.deleteProperty(json.annotations, key)
    else json.annotations[key] = value
  }
  return Buffer.concat([bytes.subarray(0, start), Buffer.from(JSON.stringify(json))])
}

/** `dir` with its first sigstore signature's annotations changed. */
export const withAnnotations = (
  dir: string,
  annotations: Readonly<Record<string, string | undefined>>,
): string => dirImageWith(dir, [changedSigstoreSignature(dir, annotations)])

/**
 * What containers/image decides for `requirement` over the `dir:` image at `path` (a fixture name
 * or a directory) claiming `reference`. An image that cannot be read (no manifest) is refused, as
 * `isRunningImageAllowed` refuses it with the read error.
 */
export async function decide(
  path: string,
  reference: string,
  requirement: Requirement,
  now: Date = NOW,
): Promise<PolicyDecision | string> {
  const policy = parseImagePolicy(JSON.stringify({ default: [requirement] }))
  let image
  try {
    image = await readDirImage(path.startsWith('/') ? path : fixture(path))
  } catch (error) {
    if (isInitguardError(error)) return error.code
    throw error
  }
  const scope = {
    transport: 'docker',
    kind: 'default' as const,
    scope: undefined,
    field: 'default',
    requirements: policy.default,
    tried: [],
  }
  return decideScope(
    scope,
    {
      reference: parseDockerImageReference(reference),
      manifest: image.manifest,
      signatures: image.signatures,
    },
    'containers-image',
    { now, readKeyFile: (file) => new Uint8Array(readFileSync(file)) },
  )
}

export const accepted = (outcome: PolicyDecision | string): boolean =>
  typeof outcome !== 'string' && outcome.accepted
export const reasonOf = (outcome: PolicyDecision | string): string =>
  typeof outcome === 'string' ? outcome : outcome.reason
/** The code of the first refused signature, or of the decision's failure. */
export const codeOf = (outcome: PolicyDecision | string): string | undefined =>
  typeof outcome === 'string'
    ? outcome
    : (outcome.requirements[0]?.signatures[0]?.code ?? outcome.requirements[0]?.code)

export const SIGNED_SAMPLE = '192.168.64.2:5000/cosign-signed-single-sample'
export const repository = { type: 'matchRepository' }
export const sigstore = (
  keys: Requirement,
  signedIdentity: Requirement = repository,
): Requirement => ({
  type: 'sigstoreSigned',
  ...keys,
  signedIdentity,
})
