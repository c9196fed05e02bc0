/**
 * What the route modules share: the ports, the protocol functions, the metrics and the settings,
 * plus how a route answers with a problem and appends to the audit log.
 *
 * @module
 */
import type { FastifyReply } from 'fastify'
import type {
  KbsAttestation,
  KbsRequest,
  KbsResourceJwe,
  TeePublicJwk,
} from '@initguard/kbs-protocol'
import type { AuditEntryInput, Appraiser, KbsStore, TokenService } from '../ports.ts'
import type { AdminPublicKey } from './admin-auth.ts'
import { problemBody, type KbsProblem } from './errors.ts'
import type { KbsMetrics } from './metrics.ts'

/**
 * The protocol library's functions the server needs (`@initguard/kbs-protocol`: the parsers
 * throw coded `MalformedInputError`s; `sealResource` makes the flattened JWE to the TEE key).
 */
export interface KbsProtocolFunctions {
  parseKbsRequest(json: unknown): KbsRequest
  parseKbsAttestation(json: unknown): KbsAttestation
  sealResource(
    teePubkey: TeePublicJwk,
    plaintext: Uint8Array,
  ): Promise<KbsResourceJwe> | KbsResourceJwe
}

/** Everything a route handler uses. */
export interface KbsRouteContext {
  readonly store: KbsStore
  readonly appraiser: Appraiser
  readonly tokens: TokenService
  readonly protocol: KbsProtocolFunctions
  readonly validateWorkload: (json: unknown) => unknown
  readonly adminKeys: readonly AdminPublicKey[]
  /** The `aud` every admin token must contain (`admin-audience`). */
  readonly adminAudience: string
  readonly metrics: KbsMetrics
  readonly clock: () => Date
  readonly nonceTtlMs: number
  /** An audit prune never removes an entry younger than this (`[audit] min-retention`). */
  readonly auditMinRetentionMs: number
  /** HTTPS: the session cookie gets `Secure`. */
  readonly secureCookie: boolean
  readonly simulatedTrust: boolean
}

/** Seconds a client should wait before retrying a 503 (when the cause did not say). */
const RETRY_AFTER_SECONDS = '1'

/** Answer with a problem; a 503 always carries `Retry-After`. */
export function sendProblem(reply: FastifyReply, problem: KbsProblem): FastifyReply {
  if (problem.status === 503 && !reply.hasHeader('retry-after'))
    reply.header('retry-after', RETRY_AFTER_SECONDS)
  return reply
    .code(problem.status)
    .type('application/json; charset=utf-8')
    .send(problemBody(problem))
}

/** Send `problem` naming the store's `code` too (a refusal scripts tell apart by it). */
export function sendCodedProblem(
  reply: FastifyReply,
  problem: KbsProblem,
  code: string,
): FastifyReply {
  return reply
    .code(problem.status)
    .type('application/json; charset=utf-8')
    .send({ ...problemBody(problem), code })
}

/** Append to the audit log at the context's clock. */
export async function audit(
  context: KbsRouteContext,
  entry: Omit<AuditEntryInput, 'at'>,
): Promise<void> {
  await context.store.audit.append({ at: context.clock(), ...entry })
}

/** `^[A-Za-z0-9_-][A-Za-z0-9_.-]*$`: a resource path segment or a workload name (Trustee's rule). */
const PATH_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/

/** The longest path segment or workload name, in characters. */
export const MAX_PATH_SEGMENT_LENGTH = 128

/** Whether `text` is a valid path segment or workload name (at most 128 characters). */
export function isPathSegment(text: string | undefined): text is string {
  return text !== undefined && text.length <= MAX_PATH_SEGMENT_LENGTH && PATH_SEGMENT.test(text)
}

/** `repo/type/tag` when every segment is valid, else `undefined`. */
export function resourcePathOf(params: unknown): string | undefined {
  const { repo, type, tag } = params as Partial<Record<'repo' | 'type' | 'tag', string>>
  const segments = [repo, type, tag]
  return segments.every(isPathSegment) ? segments.join('/') : undefined
}
