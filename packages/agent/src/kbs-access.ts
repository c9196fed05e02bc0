/**
 * Whether the agent can reach a KBS at all: a session when the verified documents name one
 * correctly, otherwise the reason, which every KBS-backed path of the guest API answers with
 * (503). A refused KBS configuration never stops the agent from serving its verified documents.
 *
 * @module
 */
import { UnavailableError, isInitguardError, type InitguardError } from '@initguard/core'
import type { GuestTee } from '@initguard/tee'
import { kbsConfigFromInitdata } from './kbs-config.ts'
import { AgentKbsSession } from './kbs-session.ts'
import type { UnboundInitdata, VerifiedInitdata } from './verified-initdata.ts'

/** The agent's KBS: a session, or why there is none. */
export type AgentKbsAccess =
  | { readonly kind: 'session'; readonly session: AgentKbsSession }
  | { readonly kind: 'unavailable'; readonly reason: InitguardError }

/** What {@link openAgentKbs} found, with the configuration's warnings (unknown keys). */
export interface OpenedAgentKbs {
  readonly access: AgentKbsAccess
  readonly warnings: readonly string[]
}

/**
 * The KBS session of the verified documents (nothing is contacted yet), or why there is none:
 * `ERR_AGENT_KBS_NOT_CONFIGURED` when no document names a KBS, or the configuration's own refusal
 * (`ERR_AGENT_KBS_CERT_MISSING`, `ERR_AGENT_KBS_CONFIG_CONFLICT`, …).
 */
export function openAgentKbs(options: {
  readonly initdata: VerifiedInitdata | UnboundInitdata
  readonly tee: GuestTee
  readonly clock?: () => Date
  readonly monotonicMs?: () => number
  readonly timeoutMs?: number
  readonly totalTimeoutMs?: number
}): OpenedAgentKbs {
  try {
    const config = kbsConfigFromInitdata(options.initdata.document.data)
    if (config.kind === 'none')
      return {
        access: {
          kind: 'unavailable',
          reason: new UnavailableError('ERR_AGENT_KBS_NOT_CONFIGURED', config.reason, {
            hint: 'name the KBS in the init-data: aa.toml [token_configs.kbs] url and cert, or cdh.toml [kbc] url and kbs_cert',
          }),
        },
        warnings: config.warnings,
      }
    const session = new AgentKbsSession({ ...options, endpoint: config.endpoint })
    return { access: { kind: 'session', session }, warnings: config.warnings }
  } catch (error) {
    if (!isInitguardError(error)) throw error
    return { access: { kind: 'unavailable', reason: error }, warnings: [] }
  }
}
