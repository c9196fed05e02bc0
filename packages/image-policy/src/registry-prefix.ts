/**
 * The names a registries.conf(5) (v2) `[[registry]]` entry gives in `prefix` and `location`,
 * checked so that a rule that blocks a prefix, or marks a registry insecure, means exactly what
 * its words say. Pure.
 *
 * registries.conf(5) allows `host[:port]`, `host[:port]/namespace[/namespace…][/repo]`, the same
 * followed by `:tag` or `@digest`, and `*.domain` (containers/image: a wildcard takes no port and
 * no namespace). containers/image refuses `http://`/`https://` and drops trailing `/`; image-rs
 * does neither and compares the text as written against the reference. A name that does not
 * follow the grammar therefore blocks nothing in one of them, and is refused here rather than
 * read one way or the other:
 *
 * - the host is docker/reference's `host[:port]` (DNS labels, an IPv4 address or a bracketed IPv6
 *   literal, optional port), and must be one a reference can carry: with a `.` or `:`, or
 *   `localhost` (otherwise `x/app` means `docker.io/x/app`), and not `index.docker.io` (references
 *   normalise it to `docker.io`); it is compared without regard to case, as DNS does;
 * - each path component follows the distribution reference grammar (lower case `[a-z0-9]` runs
 *   joined by `.`, `_`, `__` or `-`), so no empty component, no trailing `/`, no upper case, no
 *   spaces; the whole name fits docker/reference's 255 characters;
 * - a `:tag` or `@digest` prefix is valid registries.conf but not implemented (a rule per image
 *   version), and is refused as unsupported.
 *
 * A `docker.io/x` prefix covers the user namespace `x` (`docker.io/x/app`), not the official image
 * `x`, which references name `docker.io/library/x`: as in containers/image and image-rs.
 *
 * @module
 */
import { ExpectationError, MalformedInputError } from '@initguard/core'
import {
  DOCKER_DEFAULT_DOMAIN,
  DOCKER_NAME_MAX_LENGTH,
  isValidDockerDomain,
  isValidDockerName,
  parseDockerReference,
} from './docker-reference.ts'

const GRAMMAR =
  'host[:port], host[:port]/namespace[/namespace…] with lower-case components, or *.domain'

/** A short, safe rendering of untrusted text for messages. */
function quote(text: string): string {
  return JSON.stringify(text.length <= 160 ? text : `${text.slice(0, 160)}…`)
}

function malformed(field: string, value: string, why: string, hint: string): MalformedInputError {
  return new MalformedInputError(
    'ERR_CDH_CONFIG_VALUE',
    `cdh.toml: ${field} = ${quote(value)} ${why}, so a rule on it would not do what it says`,
    { details: { field, value: value.slice(0, 300) }, hint },
  )
}

function versionPrefix(field: string, value: string, which: 'tag' | 'digest'): ExpectationError {
  return new ExpectationError(
    'ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED',
    `cdh.toml: ${field} = ${quote(value)} names an image ${which}; the guest pull implements rules on registries and repositories only, and refuses rather than ignore it`,
    {
      details: { field, value: value.slice(0, 300) },
      hint: `write the repository without its ${which} (it then covers every ${which} of it), as ${GRAMMAR}`,
    },
  )
}

function wildcard(field: string, value: string): string {
  const domain = value.slice(2)
  if (domain.includes(':') || domain.startsWith('[') || !isValidDockerDomain(domain))
    throw malformed(
      field,
      value,
      domain.includes('/') || domain.includes(':')
        ? 'is a wildcard with a port or a path, which registries.conf(5) does not allow'
        : 'is not a *.domain wildcard',
      `write the wildcard as *.domain (e.g. *.example.com, which covers every host and port under example.com), or name one host[:port]/path without a wildcard`,
    )
  return `*.${domain.toLowerCase()}`
}

function registryHost(field: string, value: string, host: string): string {
  if (!isValidDockerDomain(host))
    throw malformed(
      field,
      value,
      /^[A-Za-z][A-Za-z0-9+.-]*:$/u.test(host) && value.startsWith(`${host}//`)
        ? 'starts with a URI scheme, which registries.conf(5) does not allow'
        : `does not start with a registry host[:port]`,
      `write ${GRAMMAR}, without a scheme (e.g. quay.io/org)`,
    )
  const lower = host.toLowerCase()
  if (!/[.:]/u.test(lower) && lower !== 'localhost')
    throw malformed(
      field,
      value,
      `starts with ${quote(host)}, which an image reference never has as its registry (a first component without "." or ":", other than localhost, means ${DOCKER_DEFAULT_DOMAIN}/${host}/…)`,
      `write the registry's full host name (e.g. ${host}.example.com), or ${DOCKER_DEFAULT_DOMAIN}/${host} for that ${DOCKER_DEFAULT_DOMAIN} namespace`,
    )
  if (lower === 'index.docker.io')
    throw malformed(
      field,
      value,
      `names ${host}, which image references normalise to ${DOCKER_DEFAULT_DOMAIN}`,
      `write ${DOCKER_DEFAULT_DOMAIN} instead of ${host}`,
    )
  return lower
}

function repositoryPath(field: string, value: string, host: string, path: string): string {
  if (path.includes('@') || path.includes(':')) {
    let reference: ReturnType<typeof parseDockerReference> | undefined
    try {
      reference = parseDockerReference(value)
    } catch {
      reference = undefined
    }
    if (reference?.digest !== undefined) throw versionPrefix(field, value, 'digest')
    if (reference?.tag !== undefined) throw versionPrefix(field, value, 'tag')
  }
  if (isValidDockerName(`${host}/${path}`)) return path
  const why = value.endsWith('/')
    ? 'ends with "/"'
    : path.split('/').includes('')
      ? 'has an empty path component ("//")'
      : isValidDockerName(`${host}/${path.toLowerCase()}`)
        ? 'has upper case in its path, which no repository name has'
        : 'has a path component outside the repository name grammar ([a-z0-9] runs joined by ".", "_", "__" or "-")'
  const fixed = [host, ...path.toLowerCase().split('/').filter(Boolean)].join('/')
  const suggestion = isValidDockerName(fixed) || fixed === host ? `, e.g. ${quote(fixed)}` : ''
  throw malformed(field, value, why, `write ${GRAMMAR}${suggestion}`)
}

/**
 * The registries.conf(5) `prefix` or `location` `value` (from `field`), normalised for matching:
 * `host[:port][/path]` with the host in lower case, or `*.domain` in lower case.
 *
 * @throws {@link MalformedInputError} `ERR_CDH_CONFIG_VALUE` (not a name a rule can be honoured
 *   on exactly: a scheme, a trailing `/`, an empty or upper-case path component, whitespace, a
 *   wildcard with a port or path, a host no reference has), naming the field and value, with the
 *   fix; {@link ExpectationError} `ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED` (a `:tag` or `@digest`).
 * @example
 * ```ts
 * registryPrefix('Quay.io/org', 'prefix') // 'quay.io/org'
 * ```
 */
export function registryPrefix(value: string, field: string): string {
  if (value.length > DOCKER_NAME_MAX_LENGTH)
    throw malformed(
      field,
      value,
      `is longer than the ${String(DOCKER_NAME_MAX_LENGTH)} characters of a repository name`,
      `write ${GRAMMAR}`,
    )
  if (value.startsWith('*.')) return wildcard(field, value)
  const slash = value.indexOf('/')
  const host = registryHost(field, value, slash === -1 ? value : value.slice(0, slash))
  if (slash === -1) return host
  return `${host}/${repositoryPath(field, value, host, value.slice(slash + 1))}`
}
