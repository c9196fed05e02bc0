/**
 * Registry credentials from a docker `config.json` (or a containers `auth.json`, same format):
 * `{"auths": {"<registry>": {"auth": base64("user:pass")}}}`, or `username` / `password` fields.
 *
 * Keys are matched by host: `host`, `host:port`, `https://host/v1/` and `http://host` all name
 * `host`, and Docker Hub is known as `docker.io`, `index.docker.io`, `registry-1.docker.io` and
 * `https://index.docker.io/v1/`. A key without a scheme that has a path (`quay.io/team`,
 * `quay.io/team/app`) names a namespace or repository, as containers-auth.json(5) and image-rs
 * read it: it is used only for repositories at or below that path, the most specific key first,
 * then the registry-wide key. (Folding it into its host would send one namespace's credentials
 * for every repository of the registry.) Credential helpers (`credsStore`, `credHelpers`) are not run:
 * when one of them is the only source for a registry, lookup fails with a clear error rather than
 * silently pulling anonymously and failing later with a confusing 401; so is an `identitytoken`
 * (an OAuth2 refresh token, which is not exchanged). A field of the wrong type, or an `auth` that
 * is not base64, makes the whole file malformed, as in docker and containers/image.
 *
 * @module
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { LocalIoError, MalformedInputError, UsageError, isInitguardError } from '@initguard/core'
import { readInput } from '@initguard/files'

/**
 * Where a registry client looks up credentials: by registry (`host[:port]`, `docker.io` for
 * Docker Hub) and repository path (`team/app`). The repository is required, not optional: a
 * namespace-scoped entry (`quay.io/team`) can only be found with it, so a caller or wrapper that
 * passed the registry alone would silently fall back to the registry-wide entry or to none.
 */
export type RegistryCredentialsLookup = (
  registry: string,
  repository: string,
) => RegistryCredentials | undefined

/** A user name and password (or token) for one registry. */
export interface RegistryCredentials {
  readonly username: string
  readonly password: string
}

/** One `auths` entry. */
export interface DockerAuthEntry {
  readonly credentials?: RegistryCredentials
  /** The entry holds an `identitytoken` (an OAuth2 refresh token), which is not exchanged. */
  readonly identityToken?: true
}

/** The parts of a docker `config.json` that lookup uses. */
export interface DockerConfig {
  /** Registry-wide entries by normalised host (see {@link normalizeRegistryHost}). */
  readonly auths: ReadonlyMap<string, DockerAuthEntry>
  /**
   * Namespace and repository entries (`host/path` keys without a scheme) by normalised host,
   * `/`, path: used only for repositories at or below the path.
   */
  readonly repositories: ReadonlyMap<string, DockerAuthEntry>
  readonly credsStore?: string
  readonly credHelpers: ReadonlyMap<string, string>
}

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io'])

/**
 * The host a config key or registry name stands for: scheme and path dropped, lower case, Docker
 * Hub aliases folded to `docker.io`.
 */
export function normalizeRegistryHost(key: string): string {
  let host = key.trim().toLowerCase()
  host = host.replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
  const slash = host.indexOf('/')
  if (slash >= 0) host = host.slice(0, slash)
  return DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host
}

/**
 * The namespace or repository a key names (`host/path`, host normalised, path as written), or
 * `undefined` for a registry-wide key: one without a path, or a URL (`https://host/v1/`, the old
 * docker form, whose path is the API's and not a namespace).
 */
function repositoryKey(key: string): string | undefined {
  const trimmed = key.trim()
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) return undefined
  const slash = trimmed.indexOf('/')
  if (slash < 0) return undefined
  const path = trimmed.slice(slash + 1).replace(/\/+$/, '')
  return path === '' ? undefined : `${normalizeRegistryHost(trimmed.slice(0, slash))}/${path}`
}

/** Standard base64 (padding optional), strictly: `undefined` for anything else. */
function decodeBase64(text: string): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined
  const bytes = Buffer.from(text, 'base64')
  // Buffer ignores stray bits and characters; a round trip shows the text was base64 exactly.
  if (bytes.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, '')) return undefined
  return bytes.toString('utf8')
}

function configError(message: string, field: string, path: string): MalformedInputError {
  return new MalformedInputError('ERR_DOCKER_CONFIG', `docker config ${message}`, {
    details: { field, path },
    hint: 'fix the file, or log in again with `docker login` / `skopeo login`',
  })
}

/**
 * Parse a docker `config.json` document.
 *
 * @param path - where it came from, for messages.
 * @throws {@link MalformedInputError} `ERR_DOCKER_CONFIG`.
 */
export function parseDockerConfig(text: string, path = 'config.json'): DockerConfig {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch {
    throw configError('is not JSON', '$', path)
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document))
    throw configError('is not a JSON object', '$', path)
  const root = document as Record<string, unknown>
  const auths = new Map<string, DockerAuthEntry>()
  const repositories = new Map<string, DockerAuthEntry>()
  const rawAuths: unknown = root['auths'] ?? {}
  if (typeof rawAuths !== 'object' || rawAuths === null || Array.isArray(rawAuths))
    throw configError('has an "auths" that is not an object', 'auths', path)
  for (const [key, entry] of Object.entries(rawAuths as Record<string, unknown>)) {
    const field = `auths[${JSON.stringify(key)}]`
    if (typeof entry !== 'object' || entry === null)
      throw configError(`has an ${field} that is not an object`, field, path)
    const e = entry as Record<string, unknown>
    // Wrong types are refused, as docker's and containers/image's JSON decoding refuses them:
    // skipping the entry would pull anonymously (or with other credentials) without a word.
    for (const name of ['auth', 'username', 'password', 'identitytoken'])
      if (e[name] !== undefined && e[name] !== null && typeof e[name] !== 'string')
        throw configError(`has an ${field}.${name} that is not a string`, `${field}.${name}`, path)
    let credentials: RegistryCredentials | undefined
    if (typeof e['auth'] === 'string' && e['auth'] !== '') {
      const decoded = decodeBase64(e['auth'])
      const colon = decoded?.indexOf(':') ?? -1
      // Never echo the decoded value: it is a password.
      if (decoded === undefined || colon <= 0)
        throw configError(`has an ${field}.auth that is not base64("user:password")`, field, path)
      credentials = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
    } else if (typeof e['username'] === 'string' && typeof e['password'] === 'string') {
      credentials = { username: e['username'], password: e['password'] }
    }
    const identityToken = typeof e['identitytoken'] === 'string' && e['identitytoken'] !== ''
    const host = normalizeRegistryHost(key)
    const scoped = repositoryKey(key)
    const target = scoped === undefined ? auths : repositories
    const name = scoped ?? host
    // An exact `host` key wins over a URL-form key for the same host, as in containers/image.
    if (
      !target.has(name) ||
      (credentials !== undefined && target.get(name)?.credentials === undefined)
    )
      target.set(name, {
        ...(credentials === undefined ? {} : { credentials }),
        ...(identityToken ? { identityToken } : {}),
      })
  }
  const credHelpers = new Map<string, string>()
  const rawHelpers = root['credHelpers'] ?? {}
  if (typeof rawHelpers !== 'object' || Array.isArray(rawHelpers))
    throw configError('has a "credHelpers" that is not an object', 'credHelpers', path)
  for (const [key, helper] of Object.entries(rawHelpers as Record<string, unknown>)) {
    const field = `credHelpers[${JSON.stringify(key)}]`
    if (typeof helper !== 'string')
      throw configError(`has a ${field} that is not a string`, field, path)
    credHelpers.set(normalizeRegistryHost(key), helper)
  }
  const credsStore = root['credsStore'] ?? undefined
  if (credsStore !== undefined && typeof credsStore !== 'string')
    throw configError('has a "credsStore" that is not a string', 'credsStore', path)
  return {
    auths,
    repositories,
    credHelpers,
    ...(typeof credsStore === 'string' && credsStore !== '' ? { credsStore } : {}),
  }
}

/**
 * The config file docker uses: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
 */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['DOCKER_CONFIG']
  return dir !== undefined && dir !== ''
    ? join(dir, 'config.json')
    : join(homedir(), '.docker', 'config.json')
}

/**
 * Read and parse a docker config file (at most 1 MiB).
 *
 * @throws {@link LocalIoError} `ERR_FILE_READ`; {@link MalformedInputError} `ERR_DOCKER_CONFIG`,
 *   `ERR_FILE_TOO_LARGE`.
 */
export async function loadDockerConfig(path: string): Promise<DockerConfig> {
  const bytes = await readInput(path, { what: 'docker config', maxSize: 1024 * 1024 })
  return parseDockerConfig(new TextDecoder().decode(bytes), path)
}

/**
 * The user's default docker config ({@link defaultDockerConfigPath}), or `undefined` when there is
 * none. Only a file that does not exist (ENOENT, for the file or a directory on its path) means
 * none, as in docker's own `config.Load`: a file that exists but cannot be read (permission
 * denied, a directory, a symlink loop, `$DOCKER_CONFIG` naming a file) is refused, because reading
 * it as absent would pull anonymously without a word and fail later with a misleading 401, or
 * pull a public image of the same name.
 *
 * @throws {@link LocalIoError} `ERR_FILE_READ` naming the file and that it is the default;
 *   everything {@link loadDockerConfig} throws.
 */
export async function loadDefaultDockerConfig(
  env: NodeJS.ProcessEnv = process.env,
): Promise<DockerConfig | undefined> {
  const path = defaultDockerConfigPath(env)
  try {
    return await loadDockerConfig(path)
  } catch (error) {
    if (!isInitguardError(error) || error.code !== 'ERR_FILE_READ') throw error
    const errno = (error.cause as { code?: unknown } | undefined)?.code
    if (errno === 'ENOENT') return undefined
    const reason = typeof error.details['reason'] === 'string' ? error.details['reason'] : errno
    throw new LocalIoError(
      'ERR_FILE_READ',
      `cannot read the default docker config ${JSON.stringify(path)}: ${String(reason)}; only a missing file means no credentials`,
      {
        cause: error.cause,
        details: { ...error.details, ...(typeof errno === 'string' ? { errno } : {}) },
        hint: `make ${JSON.stringify(path)} readable or remove it, set DOCKER_CONFIG to another directory, or pass the credentials file with --authfile`,
      },
    )
  }
}

/** The most specific namespace entry for `host/repository`, if any. */
function namespaceEntry(
  config: DockerConfig,
  host: string,
  repository: string | undefined,
): DockerAuthEntry | undefined {
  if (repository === undefined || config.repositories.size === 0) return undefined
  const parts = repository.split('/')
  for (let n = parts.length; n > 0; n--) {
    const entry = config.repositories.get(`${host}/${parts.slice(0, n).join('/')}`)
    if (entry !== undefined) return entry
  }
  return undefined
}

/**
 * The credentials for `repository` (its path, e.g. `team/app`) on `registry` (`host[:port]`,
 * `docker.io` for Docker Hub), or `undefined` for anonymous access. The most specific namespace
 * entry at or above the repository wins, then the registry-wide entry; without `repository` only
 * registry-wide entries are looked at.
 *
 * A `credsStore` with no entry for the registry means anonymous (docker would ask the store, but
 * anonymous pulls must keep working on machines with a desktop store); an empty `auths` entry
 * (what `docker login` writes when a store holds the secret) or a `credHelpers` entry is refused.
 *
 * @throws {@link UsageError} `ERR_REGISTRY_CREDENTIAL_HELPER`, `ERR_REGISTRY_IDENTITY_TOKEN`.
 */
export function dockerCredentialsFor(
  config: DockerConfig,
  registry: string,
  repository?: string,
): RegistryCredentials | undefined {
  const host = normalizeRegistryHost(registry)
  const entry = namespaceEntry(config, host, repository) ?? config.auths.get(host)
  // docker and containers/image use the identity token instead of any password beside it:
  // sending the password (often a placeholder) would fail later with a confusing 401.
  if (entry?.identityToken === true)
    throw new UsageError(
      'ERR_REGISTRY_IDENTITY_TOKEN',
      `the docker config holds an identity token (OAuth2 refresh token) for ${host}, which Initguard does not exchange`,
      {
        details: { registry: host },
        hint: `add an "auths" entry for ${host} with "auth": base64("user:password") (or a registry token as the password) to a separate config file and pass that file`,
      },
    )
  if (entry?.credentials !== undefined) return entry.credentials
  const helper =
    config.credHelpers.get(host) ?? (entry === undefined ? undefined : config.credsStore)
  if (helper !== undefined)
    throw new UsageError(
      'ERR_REGISTRY_CREDENTIAL_HELPER',
      `the credentials for ${host} are kept by the credential helper docker-credential-${helper}, which Initguard does not run`,
      {
        details: { registry: host, helper },
        hint: `add an "auths" entry for ${host} with "auth": base64("user:password") to a separate config file and pass that file`,
      },
    )
  return undefined
}
