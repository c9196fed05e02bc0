/**
 * The digest a signature must name for a manifest: containers/image `manifest.MatchesDigest`.
 * The digest is over the manifest bytes exactly as the registry served them, with the algorithm
 * the signature names (`sha256` or `sha512`). Docker schema 1 signed manifests, whose digest
 * excludes their embedded JWS signatures, are not supported and never match.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { bytesToHex } from '@initguard/core'

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/

/** `sha256:<hex>` of `manifest`. */
export function manifestDigest(
  manifest: Uint8Array,
  algorithm: 'sha256' | 'sha512' = 'sha256',
): string {
  return `${algorithm}:${bytesToHex(createHash(algorithm).update(manifest).digest())}`
}

/**
 * Whether `digest` (as a signature or reference names it) is the digest of `manifest`. A digest
 * in any other form (upper-case hex, another algorithm, wrong length) never matches.
 */
export function manifestMatchesDigest(manifest: Uint8Array, digest: string): boolean {
  if (!DIGEST.test(digest)) return false
  const algorithm = digest.startsWith('sha256:') ? 'sha256' : 'sha512'
  return manifestDigest(manifest, algorithm) === digest
}
