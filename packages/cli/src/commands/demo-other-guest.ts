/**
 * The demo's third guest: launched with another document, consistent with its launch (the same
 * edit as the tampered guest's, but made before launch). Its agent starts, since its document
 * matches its TEE; the KBS refuses it (403), and its audit log says why.
 *
 * @module
 */
import { UnavailableError } from '@initguard/core'
import {
  allowExec,
  guestGet,
  launchServingGuest,
  writeEditedDocument,
  type DemoStage,
} from './demo-guests.ts'
import { DEMO_SECRET_PATH, type DemoSystem } from './demo-system.ts'

/** An entry of `kbs admin audit --json`. */
export interface AuditEntry {
  readonly id: number
  readonly action?: string
  readonly outcome?: string
  readonly reason?: string
  readonly detail?: string
}

/** A guest API error body (`{code, message}`) as one line. */
function guestApiError(body: string): string {
  try {
    const error = JSON.parse(body) as { code?: string; message?: string }
    return `${error.code ?? '?'}: ${error.message ?? ''}`
  } catch {
    return body.slice(0, 160)
  }
}

/** The audit entries after `after` (`kbs admin audit --json`). */
async function auditAfter(system: DemoSystem, after: number): Promise<readonly AuditEntry[]> {
  const run = await system.admin('audit', '--json', '--after', String(after))
  if (run.code !== 0)
    throw new UnavailableError('ERR_DEMO_AUDIT', `kbs admin audit exited ${run.code}`, {
      details: { output: run.stdout.slice(0, 500) },
      hint: 'see kbs.log in the demo directory',
    })
  return (JSON.parse(run.stdout) as { result: { entries: AuditEntry[] } }).result.entries
}

/** Why the KBS must refuse the other guest: no workload accepts its (self-consistent) init-data. */
export const EXPECTED_DENIAL = 'ERR_KBS_NO_WORKLOAD'

/**
 * The attestation denied in `entries`, and whether it was denied for the expected reason: a
 * denial for anything else (bad evidence, a rate limit) does not show the KBS judging init-data.
 */
export function otherGuestDenial(entries: readonly AuditEntry[]): {
  readonly denied: AuditEntry | undefined
  readonly expected: boolean
} {
  const denied = entries.find((entry) => entry.action === 'attest' && entry.outcome === 'denied')
  return { denied, expected: denied?.reason === EXPECTED_DENIAL }
}

/** Guest 3: launched with `edit` applied to the registered document, its agent given the same. */
export async function demoOtherGuest(
  stage: DemoStage,
  edit: (document: string) => string = allowExec,
): Promise<void> {
  const { story, system } = stage
  story.step(
    'Guest "other": launched with its own document (policy.rego allows exec), its agent given the same',
  )
  const other = await writeEditedDocument(stage, 'other', edit)
  const guest = { name: 'other', launchedWith: other, agentGiven: other }
  const serving = await launchServingGuest(stage, guest, 'its document matches its launch, serving')
  if (serving === undefined) return
  const { base, agent } = serving
  const before = await auditAfter(system, 0)
  const last = before.at(-1)?.id ?? 0
  const refused = await guestGet(base, `/cdh/resource/${DEMO_SECRET_PATH}`)
  const body = refused.body.toString('utf8')
  story.check(
    refused.status === 403,
    `GET /cdh/resource/${DEMO_SECRET_PATH}: HTTP ${refused.status}, the KBS refused it`,
    body.slice(0, 200),
  )
  story.detail(guestApiError(body))
  const { denied, expected } = otherGuestDenial(await auditAfter(system, last))
  story.check(
    expected,
    `kbs admin audit: attestation denied, ${denied?.reason ?? '?'}`,
    denied === undefined
      ? 'no denied attestation in the audit log'
      : `denied for ${denied.reason ?? 'no reason'}, not ${EXPECTED_DENIAL}`,
  )
  if (denied?.detail !== undefined) story.detail(denied.detail)
  await agent.stop()
}
