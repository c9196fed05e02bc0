/**
 * Which requirement list of a policy applies to an image: containers/image's lookup
 * (`signature/policy_eval.go` `requirementsForImageRef`, `docker/policyconfiguration/naming.go`).
 * The first scope present wins; lists are never merged.
 *
 * @module
 */
import type { DockerImageReference } from './docker-reference.ts'
import type { ImagePolicy, PolicyRequirement } from './policy.ts'

/** Why a scope was a candidate for a `docker:` reference. */
export type ScopeKind =
  'identity' | 'repository' | 'namespace' | 'host' | 'wildcard' | 'transportDefault' | 'default'

/** One scope the lookup tries, in order. */
export interface ScopeCandidate {
  readonly scope: string
  readonly kind: Exclude<ScopeKind, 'transportDefault' | 'default'>
}

/** The result of a scope lookup. */
export interface ScopeMatch {
  /** The transport looked up, e.g. `docker`. */
  readonly transport: string
  /** What matched: a scope of the transport, its `""` default, or the global `default`. */
  readonly kind: ScopeKind
  /** The matching key under `transports.<transport>`; undefined for the global default. */
  readonly scope: string | undefined
  /** The JSON path of the requirement list, e.g. `transports.docker["quay.io/org"]`. */
  readonly field: string
  /** The requirement list that applies. */
  readonly requirements: readonly PolicyRequirement[]
  /** Every scope tried before the match, in order (for explanations). */
  readonly tried: readonly string[]
}

/**
 * The scopes containers/image tries for a `docker:` reference, most specific first: the identity
 * (`name:tag` or `name@digest`), the repository, each parent namespace, `host[:port]`, then
 * `*.`-wildcards of the host without its port.
 */
export function dockerScopeCandidates(ref: DockerImageReference): readonly ScopeCandidate[] {
  return [
    { scope: ref.identity, kind: 'identity' },
    { scope: ref.name, kind: 'repository' },
    ...ref.parentNamespaces.map((scope) => ({ scope, kind: 'namespace' as const })),
    { scope: ref.host, kind: 'host' },
    ...ref.wildcardScopes.map((scope) => ({ scope, kind: 'wildcard' as const })),
  ]
}

/** Look up the requirement list for `candidates` under `transport`, then `""`, then `default`. */
export function lookupScope(
  policy: ImagePolicy,
  transport: string,
  candidates: readonly ScopeCandidate[],
): ScopeMatch {
  const scopes = policy.transports.get(transport)
  const field = (scope: string): string => `transports.${transport}[${JSON.stringify(scope)}]`
  const tried: string[] = []
  if (scopes !== undefined) {
    for (const { scope, kind } of candidates) {
      const requirements = scopes.get(scope)
      if (requirements !== undefined) {
        return { transport, kind, scope, field: field(scope), requirements, tried }
      }
      tried.push(scope)
    }
    const transportDefault = scopes.get('')
    if (transportDefault !== undefined) {
      return {
        transport,
        kind: 'transportDefault',
        scope: '',
        field: field(''),
        requirements: transportDefault,
        tried,
      }
    }
    tried.push('')
  }
  return {
    transport,
    kind: 'default',
    scope: undefined,
    field: 'default',
    requirements: policy.default,
    tried,
  }
}

/** The requirement list for a `docker:` image reference. */
export function lookupDockerScope(policy: ImagePolicy, ref: DockerImageReference): ScopeMatch {
  return lookupScope(policy, 'docker', dockerScopeCandidates(ref))
}
