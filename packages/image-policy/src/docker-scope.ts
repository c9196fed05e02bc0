/**
 * Which `transports.docker` scopes of a policy can ever apply. containers/image accepts any string
 * there (its docker transport validates no scope) and matches a pulled image only against its
 * fully expanded forms: `docker.io/library/busybox:latest`, `docker.io/library/busybox`,
 * `docker.io/library`, `docker.io`, `*.io`. So a scope written `busybox`, `docker.io/busybox`,
 * `Quay.io/org/App` or `*.example.com:5000` never matches, and the image silently falls to the
 * transport's or the policy's default, which may accept it. We refuse such a scope instead.
 *
 * @module
 */
import { isInitguardError } from '@initguard/core'
import { isValidDockerDomain, parseDockerReference } from './docker-reference.ts'

/**
 * Why the docker scope `scope` can never match a pulled image, with the form that would, or
 * `undefined` when it can (an identity, a repository, a namespace, a host or a `*.` wildcard).
 */
export function dockerScopeProblem(
  scope: string,
): { readonly why: string; readonly hint: string } | undefined {
  if (scope.startsWith('*.')) {
    const domain = scope.slice(2)
    return isValidDockerDomain(domain) && !/[:[/]/.test(domain)
      ? undefined
      : {
          why: 'is not a wildcard of the form *.domain (no port, no path)',
          hint: 'write *.example.com; a wildcard matches any host under it, on any port',
        }
  }
  if (!scope.includes('/')) {
    return isValidDockerDomain(scope) && (/[.:]/.test(scope) || scope === 'localhost')
      ? undefined
      : {
          why: 'is not a registry host: a reference without a dot or port in its first part is on docker.io',
          hint: 'write the host with its domain (registry.example.com, localhost:5000) or a fully expanded repository such as docker.io/library/NAME',
        }
  }
  const slash = scope.indexOf('/')
  const host = scope.slice(0, slash)
  if (
    !isValidDockerDomain(host) ||
    !(/[.:]/.test(host) || host === 'localhost') ||
    host === 'index.docker.io'
  )
    return {
      why: `does not start with a registry host (images are matched with their host, e.g. docker.io/library/NAME)`,
      hint: 'write the fully expanded form: host[:port]/path[:tag|@digest], with a host that has a dot or a port (docker.io for Docker Hub)',
    }
  let ref
  try {
    ref = parseDockerReference(scope, 'the scope')
  } catch (error) {
    if (!isInitguardError(error)) throw error
    return { why: `is not an image reference (${error.message})`, hint: error.hint ?? '' }
  }
  if (ref.tag !== undefined && ref.digest !== undefined)
    return {
      why: 'has both a tag and a digest, which no pulled image has',
      hint: 'keep only the tag (repo:tag) or only the digest (repo@sha256:…)',
    }
  // docker.io/NAME reads as the reference docker.io/library/NAME, but as a scope it is the namespace
  // docker.io/NAME, which images under it (docker.io/NAME/app) match: kept as written.
  const namespaceOfHub =
    ref.domain === 'docker.io' &&
    ref.tag === undefined &&
    ref.digest === undefined &&
    !scope.slice(slash + 1).includes('/')
  return namespaceOfHub || ref.text === scope
    ? undefined
    : {
        why: `is not fully expanded: images are matched as ${JSON.stringify(ref.text)}`,
        hint: `write ${JSON.stringify(ref.text)}`,
      }
}
