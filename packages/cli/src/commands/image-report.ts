/**
 * How `image check`, `image pull` and `agent pull-image` report a policy decision: the exit code,
 * the text for people and the JSON for scripts.
 *
 * @module
 */
import type { CheckedImage } from '@initguard/oci'
import type { PolicyDecision } from '@initguard/image-policy'
import { EXIT_CODES } from '../exit-codes.ts'

/**
 * The exit code for a decision: 0 accepted, 5 refused; but when every failing requirement failed
 * on the policy's own broken trust material (a key file unreadable or not a key), that error's
 * code (7, 3), so a script can tell a broken policy from a refused image.
 */
export function decisionExitCode(decision: PolicyDecision): number {
  if (decision.accepted) return 0
  const failed = decision.requirements.filter((r) => !r.accepted)
  const [first] = failed
  if (first?.keyError === undefined || failed.some((r) => r.keyError === undefined)) return 5
  return EXIT_CODES[first.keyError]
}

/** The decision as text: scope, each requirement, each signature. */
export function describeDecision(decision: PolicyDecision): string[] {
  const { scope } = decision
  const lines = [
    `${decision.accepted ? 'accepted' : 'REFUSED'}: ${decision.reason}`,
    `scope: ${scope.field}${scope.tried.length > 0 ? ` (tried before it: ${scope.tried.map((s) => JSON.stringify(s)).join(', ')})` : ''}`,
  ]
  for (const r of decision.requirements) {
    lines.push(`  ${r.accepted ? 'ok  ' : 'FAIL'} ${r.field} ${r.type}: ${r.reason}`)
    for (const s of r.signatures) {
      lines.push(
        `         ${s.accepted ? 'accepted' : 'refused '} ${s.source}: ${s.reason}${s.code === undefined ? '' : ` [${s.code}]`}`,
      )
    }
  }
  return lines
}

/** The decision as JSON: the scope without its requirement objects (they hold key bytes). */
export function decisionJson(decision: PolicyDecision): Record<string, unknown> {
  const { requirements: _requirements, ...scope } = decision.scope
  return { ...decision, scope }
}

/** A registry image's check as JSON; `policy` says where the policy came from. */
export function checkedJson(policy: string, checked: CheckedImage): Record<string, unknown> {
  return {
    ok: checked.decision.accepted,
    reference: checked.reference.text,
    policy,
    // null when the policy's reject refused the image before anything was fetched.
    manifestDigest: checked.topManifest?.digest ?? null,
    imageManifestDigest: checked.imageManifest?.digest ?? null,
    ...(checked.platform === undefined ? {} : { platform: checked.platform }),
    signatureSources: checked.signatureSources ?? null,
    decision: decisionJson(checked.decision),
  }
}
