/**
 * How `evidence verify` names the root a chain ended at: the vendor's pinned root, or a root the
 * user supplied, which is never described as the vendor's.
 *
 * @module
 */
import type { TrustAnchorInfo } from '@initguard/core'

/**
 * "AMD's pinned ARK-Milan (SHA-256 …)", or "a user-supplied root (--trust-root), not AMD's: CN=…
 * (SHA-256 …)".
 *
 * @param vendorRoot - the vendor root's name as people know it ("Intel's SGX Root CA").
 * @param option - the option that supplies a root, named in the text.
 */
export function anchorPhrase(anchor: TrustAnchorInfo, vendorRoot: string, option: string): string {
  return anchor.origin === 'pinned'
    ? `${vendorRoot}, the pinned root (SHA-256 ${anchor.sha256})`
    : `a user-supplied root (${option}), not ${vendorRoot}: ${anchor.subject} (SHA-256 ${anchor.sha256})`
}
