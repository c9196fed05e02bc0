/**
 * containers-registries.d(5): where simple-signing signatures of a `docker:` image live.
 *
 * Loads a directory of `*.yaml` files and picks the lookaside store for an image the way
 * containers/image does (`docker/registries_d.go`), with these deliberate differences:
 *
 * - Unknown keys are errors (c/image's YAML decoder ignores them), so a typo such as `lookasid:`
 *   cannot silently disable signature lookup. Wrong types are errors too.
 * - `lookaside`/`sigstore` URLs are checked on load (absolute `file://`, `http://` or `https://`,
 *   no host in a `file:` URL); c/image only fails when it reads from one.
 * - Files are read in sorted name order (c/image uses directory order). Because a duplicate scope
 *   is an error either way, this only changes which file an error names first.
 * - No configured store means no store: c/image then falls back to its built-in
 *   `/var/lib/containers/sigstore`; callers that want that must say so.
 *
 * @module
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalIoError, MalformedInputError } from '@initguard/core'
import { parseDocument } from 'yaml'
import { readInput } from '@initguard/files'

// Choosing a store for an image lives in lookaside-location.ts; these names stay importable here.
export { lookasideFor, lookasideSignatureURL } from './lookaside-location.ts'
export { redactUrl } from '@initguard/http'
export type { LookasideChoice } from './lookaside-location.ts'

/** Largest registries.d file we read: 1 MiB; real ones are a few hundred bytes. */
export const MAX_REGISTRIES_D_FILE_SIZE: number = 1024 * 1024

/** One configuration section: a `docker:` scope or `default-docker`. */
export interface RegistriesDSection {
  /** The read URL, from `lookaside` or else the old name `sigstore`, checked on load. */
  readonly lookaside?: URL
  /** The read URL exactly as written (c/image builds signature paths from this text). */
  readonly lookasideText?: string
  /** The write URL (`lookaside-staging`, else `sigstore-staging`); never used for reading. */
  readonly lookasideStaging?: string
  /** `use-sigstore-attachments`, when given. */
  readonly useSigstoreAttachments?: boolean
  /** The file that defined the section. */
  readonly file: string
}

/** A merged registries.d configuration. */
export interface RegistriesDConfig {
  /** The `default-docker` section, when one file defines it. */
  readonly defaultDocker?: RegistriesDSection
  /** The `docker:` sections by scope (a fully expanded reference, repository, namespace or host). */
  readonly docker: ReadonlyMap<string, RegistriesDSection>
}

/** One registries.d file's name and text, for {@link parseRegistriesD}. */
export interface RegistriesDFile {
  readonly name: string
  readonly text: string
}

const SECTION_KEYS = new Set([
  'lookaside',
  'lookaside-staging',
  'sigstore',
  'sigstore-staging',
  'use-sigstore-attachments',
])
const DEFAULT_SCOPE = 'default-docker'
// gopkg.in/yaml.v3 still accepts YAML 1.1 booleans when the target field is a bool, and c/image
// decodes `use-sigstore-attachments` into a *bool, so `yes`/`off` work there; they must work here.
const YAML11_TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'])
const YAML11_FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'])
function malformed(
  code: `ERR_REGISTRIES_D_${string}`,
  message: string,
  hint: string,
  details: Record<string, string | number>,
): MalformedInputError {
  return new MalformedInputError(code, message, { hint, details })
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  )
}

function typeError(file: string, field: string, expected: string): MalformedInputError {
  return malformed(
    'ERR_REGISTRIES_D_TYPE',
    `${file}: ${field} must be ${expected}`,
    'see containers-registries.d(5) for the shape of the file',
    { file, field },
  )
}

function checkLookasideUrl(text: string, file: string, field: string): URL {
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {
    url = undefined
  }
  const fail = (why: string): MalformedInputError =>
    malformed(
      'ERR_REGISTRIES_D_LOOKASIDE_URL',
      `${file}: ${field} is not a usable signature store URL: ${why}`,
      'write an absolute URL such as file:///var/lib/containers/sigstore or https://sigs.example.com/sigstore',
      { file, field },
    )
  if (url === undefined) throw fail('it does not parse as an absolute URL')
  if (url.protocol === 'file:') {
    // c/image reads url.Path and ignores any host; refuse one rather than guess what was meant.
    if (url.host !== '') throw fail('a file: URL must not name a host (write file:///path)')
  } else if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fail(`the scheme ${JSON.stringify(url.protocol.slice(0, 20))} is not file, http or https`)
  }
  return url
}

function parseSection(value: unknown, file: string, field: string): RegistriesDSection {
  // A YAML null (`quay.io:` with nothing after it) is an empty section in c/image.
  if (value === null) return { file }
  if (!isMapping(value)) throw typeError(file, field, 'a mapping')
  const strings = new Map<string, string>()
  let attachments: boolean | undefined
  for (const [key, item] of Object.entries(value)) {
    const where = `${field}.${key}`
    if (!SECTION_KEYS.has(key)) {
      throw malformed(
        'ERR_REGISTRIES_D_UNKNOWN_KEY',
        `${file}: unknown key ${JSON.stringify(key.slice(0, 60))} in ${field}`,
        'the keys are lookaside, lookaside-staging, use-sigstore-attachments (and the old names sigstore, sigstore-staging)',
        { file, field: where },
      )
    }
    if (item === null) continue
    if (key === 'use-sigstore-attachments') {
      if (typeof item === 'boolean') attachments = item
      else if (typeof item === 'string' && YAML11_TRUE.has(item)) attachments = true
      else if (typeof item === 'string' && YAML11_FALSE.has(item)) attachments = false
      else throw typeError(file, where, 'true or false')
    } else if (typeof item === 'string') {
      strings.set(key, item)
    } else {
      throw typeError(file, where, 'a string (a URL)')
    }
  }
  // c/image prefers the new names and ignores the old ones when both are set; empty means unset.
  const set = (key: string): boolean => (strings.get(key) ?? '') !== ''
  const readKey = set('lookaside') ? 'lookaside' : set('sigstore') ? 'sigstore' : undefined
  const lookasideText = readKey === undefined ? undefined : strings.get(readKey)
  const stagingKey = set('lookaside-staging') ? 'lookaside-staging' : 'sigstore-staging'
  const staging = strings.get(stagingKey) ?? ''
  return {
    file,
    ...(readKey === undefined || lookasideText === undefined
      ? {}
      : {
          lookaside: checkLookasideUrl(lookasideText, file, `${field}.${readKey}`),
          lookasideText,
        }),
    ...(staging === '' ? {} : { lookasideStaging: staging }),
    ...(attachments === undefined ? {} : { useSigstoreAttachments: attachments }),
  }
}

function parseFileValue(file: RegistriesDFile): unknown {
  const doc = parseDocument(file.text, { uniqueKeys: true, version: '1.2' })
  const [error] = doc.errors
  if (error !== undefined) {
    const position = error.linePos?.[0]
    const at = position === undefined ? '' : ` at line ${position.line}, column ${position.col}`
    throw new MalformedInputError(
      'ERR_REGISTRIES_D_YAML',
      `${file.name} is not valid YAML${at}: ${error.code === 'DUPLICATE_KEY' ? 'a key appears twice' : error.code.toLowerCase().replaceAll('_', ' ')}`,
      {
        details: {
          file: file.name,
          ...(position === undefined ? {} : { line: position.line, column: position.col }),
        },
        hint: 'fix the YAML (check indentation and duplicate keys)',
      },
    )
  }
  // Aliases are capped so a "billion laughs" file cannot exhaust memory.
  return doc.toJS({ maxAliasCount: 100 }) as unknown
}

/**
 * Parse and merge registries.d files, pure. Files are taken in sorted name order; a scope defined
 * in two files, or `default-docker` in two files, is an error naming both.
 *
 * @throws {@link MalformedInputError} `ERR_REGISTRIES_D_YAML`, `ERR_REGISTRIES_D_TYPE`,
 *   `ERR_REGISTRIES_D_UNKNOWN_KEY`, `ERR_REGISTRIES_D_LOOKASIDE_URL`,
 *   `ERR_REGISTRIES_D_DUPLICATE_SCOPE`, `ERR_REGISTRIES_D_DUPLICATE_DEFAULT`.
 */
export function parseRegistriesD(files: readonly RegistriesDFile[]): RegistriesDConfig {
  const docker = new Map<string, RegistriesDSection>()
  let defaultDocker: RegistriesDSection | undefined
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const file of sorted) {
    let value: unknown
    try {
      value = parseFileValue(file)
    } catch (error) {
      if (error instanceof MalformedInputError) throw error
      // The yaml package throws (rather than reports) when aliases expand past the cap.
      throw new MalformedInputError(
        'ERR_REGISTRIES_D_YAML',
        `${file.name} cannot be loaded as YAML`,
        {
          cause: error,
          details: { file: file.name },
          hint: 'remove YAML aliases and anchors; registries.d files do not need them',
        },
      )
    }
    // An empty file (or one with only comments) is an empty configuration, as in c/image.
    if (value === null || value === undefined) continue
    if (!isMapping(value)) throw typeError(file.name, 'the document', 'a mapping')
    for (const [key, item] of Object.entries(value)) {
      if (key === DEFAULT_SCOPE) {
        if (item === null) continue
        const section = parseSection(item, file.name, DEFAULT_SCOPE)
        if (defaultDocker !== undefined) {
          throw malformed(
            'ERR_REGISTRIES_D_DUPLICATE_DEFAULT',
            `"default-docker" is defined both in ${defaultDocker.file} and in ${file.name}`,
            'keep one default-docker section in the whole directory',
            { file: file.name, otherFile: defaultDocker.file },
          )
        }
        defaultDocker = section
      } else if (key === 'docker') {
        if (item === null) continue
        if (!isMapping(item)) throw typeError(file.name, 'docker', 'a mapping of scopes')
        for (const [scope, sectionValue] of Object.entries(item)) {
          const section = parseSection(
            sectionValue,
            file.name,
            `docker[${JSON.stringify(scope.slice(0, 200))}]`,
          )
          const previous = docker.get(scope)
          if (previous !== undefined) {
            throw malformed(
              'ERR_REGISTRIES_D_DUPLICATE_SCOPE',
              `the "docker" scope ${JSON.stringify(scope.slice(0, 200))} is defined both in ${previous.file} and in ${file.name}`,
              'define each scope in exactly one file; c/image refuses to merge them too',
              { file: file.name, otherFile: previous.file, field: 'docker' },
            )
          }
          docker.set(scope, section)
        }
      } else {
        throw malformed(
          'ERR_REGISTRIES_D_UNKNOWN_KEY',
          `${file.name}: unknown top-level key ${JSON.stringify(key.slice(0, 60))}`,
          'the top-level keys are docker and default-docker',
          { file: file.name, field: key.slice(0, 60) },
        )
      }
    }
  }
  return { docker, ...(defaultDocker === undefined ? {} : { defaultDocker }) }
}

/** Options for {@link loadRegistriesD}. */
export interface LoadRegistriesDOptions {
  /** Treat a missing directory as empty, as c/image does for its default path; default false. */
  readonly allowMissing?: boolean
}

/**
 * Load every `*.yaml` file in `dir` (not `.yml`, not subdirectories' contents) and merge them with
 * {@link parseRegistriesD}.
 *
 * @throws {@link LocalIoError} `ERR_REGISTRIES_D_READ` (directory), `ERR_FILE_READ` (a file);
 *   {@link MalformedInputError} `ERR_FILE_TOO_LARGE` and everything {@link parseRegistriesD} throws.
 */
export async function loadRegistriesD(
  dir: string,
  options: LoadRegistriesDOptions = {},
): Promise<RegistriesDConfig> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'ENOENT' && options.allowMissing === true) return { docker: new Map() }
    throw new LocalIoError(
      'ERR_REGISTRIES_D_READ',
      `cannot list the registries.d directory ${JSON.stringify(dir)}: ${typeof code === 'string' ? code : 'unknown error'}`,
      {
        cause: error,
        details: { path: dir },
        hint: 'check the --registries-d path; it must be a readable directory',
      },
    )
  }
  const files: RegistriesDFile[] = []
  for (const name of names.filter((n) => n.endsWith('.yaml')).sort()) {
    const path = join(dir, name)
    let bytes: Uint8Array
    try {
      bytes = await readInput(path, {
        what: 'registries.d file',
        maxSize: MAX_REGISTRIES_D_FILE_SIZE,
      })
    } catch (error) {
      // A file removed between listing and reading is skipped, as c/image does.
      if (error instanceof LocalIoError && error.details['reason'] === 'no such file or directory')
        continue
      throw error
    }
    files.push({ name: path, text: new TextDecoder().decode(bytes) })
  }
  return parseRegistriesD(files)
}
