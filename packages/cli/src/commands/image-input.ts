/**
 * Where `initguard image` commands get their policy, lookaside configuration, credentials and
 * registry settings: a policy file, or a verified initdata document's `cdh.toml`.
 *
 * @module
 */
import { readInput } from '@initguard/files'
import {
  defaultLookasideStore,
  dockerConfigCredentials,
  loadDefaultDockerConfig,
  loadDockerConfig,
  loadRegistriesD,
  parseRegistriesD,
  type CheckImageOptions,
  type RegistriesDConfig,
} from '@initguard/oci'
import { ExpectationError, InternalError, UsageError, utf8ToString } from '@initguard/core'
import { checkBinding } from '@initguard/initdata'
import {
  cdhImageSources,
  isValidDockerDomain,
  parseImagePolicy,
  type ImagePolicy,
} from '@initguard/image-policy'
import {
  JSON_OPTION,
  listOption,
  optionGiven,
  parsedOption,
  stringOption,
  type OptionSpec,
  type ParsedArgs,
} from '../command.ts'
import {
  PATH_VALUE,
  PLATFORM_VALUE,
  TIME_VALUE,
  checkedValue,
  type OptionValue,
} from '../option-values.ts'
import type { CliIo } from '../cli-io.ts'
import { REGISTRY_ACCESS_OPTIONS } from './image-pull-options.ts'
import {
  ENCODING_OPTION,
  EXPECTED_VALUE,
  FROM_OPTION,
  TEE_OPTION,
  expectedValue,
  loadDocument,
  teeOption,
} from './initdata-input.ts'

/** `--from` without its default, so that {@link loadPolicy} can tell whether it was given. */
const { default: _fromDefault, ...FROM_WITHOUT_DEFAULT } = FROM_OPTION

/** The options that only say how to read and trust `--initdata`. */
const INITDATA_ONLY_OPTIONS = ['tee', 'expected', 'encoding', 'from'] as const

/**
 * `--insecure-registry`: a registry as references name it, `host[:port]` (docker/reference's
 * grammar). Anything else (`http://host:5000`, `host/path`) could never match a registry, so
 * plain HTTP would silently not be used for the one meant.
 */
const REGISTRY_HOST_VALUE: OptionValue<string> = checkedValue(
  { name: 'registry-host' },
  'a registry host[:port] as image references name it, e.g. localhost:5000',
  'localhost:5000',
  (text, refuse) => {
    if (isValidDockerDomain(text)) return text
    return refuse(
      /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
        ? 'drop the scheme: give host[:port] only'
        : text.includes('/')
          ? 'give the whole registry, host[:port], without a path'
          : undefined,
    )
  },
)

/** containers/image's system registries.d directory, read when it exists. */
const SYSTEM_REGISTRIES_D = '/etc/containers/registries.d'

/** Options shared by `image check` and `image pull`. */
export const IMAGE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  policy: {
    type: 'string',
    value: PATH_VALUE,
    valueName: 'FILE',
    help: 'the containers-policy.json(5) file',
  },
  initdata: {
    type: 'string',
    value: PATH_VALUE,
    valueName: 'FILE',
    help: "take the policy from this initdata document's cdh.toml ([image] image_security_policy), after checking it against --tee/--expected",
  },
  tee: { ...TEE_OPTION, help: `with --initdata: ${TEE_OPTION.help}` },
  expected: {
    type: 'string',
    value: EXPECTED_VALUE,
    valueName: 'VALUE',
    help: 'with --initdata: the value the TEE reported for the document (hex, or base64 with --encoding base64)',
  },
  encoding: {
    type: 'string',
    value: ENCODING_OPTION.value,
    valueName: 'ENC',
    help: 'encoding of --expected: hex (default) or base64',
  },
  from: { ...FROM_WITHOUT_DEFAULT, help: `with --initdata: ${FROM_OPTION.help}` },
  'image-rs': {
    type: 'boolean',
    help: "read the policy as CoCo's image-rs does (required transports, PEM keyData for sigstoreSigned, cosign identity rules); default containers/image",
  },
  'registries-d': {
    type: 'string',
    value: PATH_VALUE,
    valueName: 'DIR',
    help: `registries.d directory (lookaside stores, use-sigstore-attachments); default ${SYSTEM_REGISTRIES_D} if it exists; with --initdata, none (the document's sigstore_config, if it names one, with which this is refused)`,
  },
  authfile: REGISTRY_ACCESS_OPTIONS.authfile,
  'insecure-registry': {
    type: 'string',
    value: REGISTRY_HOST_VALUE,
    multiple: true,
    valueName: 'HOST',
    help: 'reach this registry (host[:port]) over plain HTTP',
  },
  platform: REGISTRY_ACCESS_OPTIONS.platform,
  at: {
    type: 'string',
    value: TIME_VALUE,
    valueName: 'TIME',
    help: 'judge signatures and keys at this ISO 8601 time; default now',
  },
  json: JSON_OPTION,
}

/** Where the policy came from, for reports. */
export interface PolicyOrigin {
  readonly policy: ImagePolicy
  readonly source: string
  readonly registriesD: RegistriesDConfig
  /**
   * Whether the host's defaults (the system registries.d, the built-in lookaside store) may
   * supply signatures. Not for a policy from initdata: the guest sees none of them.
   */
  readonly hostDefaults: boolean
  readonly warnings: string[]
}

async function policyFromInitdata(
  path: string,
  args: ParsedArgs,
  io: CliIo,
  forRegistry: boolean,
): Promise<PolicyOrigin> {
  const document = await loadDocument(path, args, io)
  const tee = teeOption(args, false)
  if (tee === undefined || stringOption(args, 'expected') === undefined) {
    throw new UsageError('ERR_USAGE', '--initdata needs --tee and --expected', {
      hint: 'an initdata document is trusted only once it matches the value the TEE reported: give --tee T --expected VALUE',
    })
  }
  const binding = checkBinding(document, tee, expectedValue(args))
  const warnings = [...binding.warnings]
  const cdh = document.data.get('cdh.toml')
  if (cdh === undefined) {
    throw new ExpectationError(
      'ERR_IMAGE_POLICY_NONE',
      `${path} has no cdh.toml, so no image policy`,
      {
        hint: 'add [image] image_security_policy to cdh.toml; with no policy image-rs allows every image, which Initguard refuses',
      },
    )
  }
  const sources = cdhImageSources(cdh)
  let policyBytes: Uint8Array
  let source: string
  switch (sources.policy.kind) {
    case 'none':
      throw new ExpectationError(
        'ERR_IMAGE_POLICY_NONE',
        `cdh.toml in ${path} sets no image security policy`,
        {
          hint: 'add [image] image_security_policy; with no policy image-rs allows every image, which Initguard refuses',
        },
      )
    case 'inline':
      policyBytes = sources.policy.bytes
      source = `${path}: cdh.toml ${sources.policy.field}`
      break
    case 'file':
      policyBytes = await readInput(sources.policy.path, { what: 'image security policy' })
      source = `${sources.policy.path} (from cdh.toml ${sources.policy.field})`
      warnings.push(
        `the policy is read from ${sources.policy.path}, which the initdata digest does not cover; inline it as image_security_policy to bind it to the launch`,
      )
      break
    case 'kbs':
      // Not asked for (`kbs: true`): only the guest agent fetches from the KBS.
      throw new InternalError('ERR_INTERNAL', 'cdhImageSources returned a kbs source unasked')
  }
  if (sources.sigstoreConfig.kind !== 'none' && stringOption(args, 'registries-d') !== undefined) {
    // The verified document decides where signatures come from; a host directory must not.
    throw new UsageError(
      'ERR_OPTION_NOT_APPLICABLE',
      `--registries-d is given, but cdh.toml in ${path} names its own sigstore config (${sources.sigstoreConfig.field})`,
      {
        details: { option: '--registries-d' },
        hint: "drop --registries-d: the document's sigstore config is the one used",
      },
    )
  }
  let registriesD: RegistriesDConfig | undefined
  if (sources.sigstoreConfig.kind === 'inline') {
    registriesD = parseRegistriesD([
      {
        name: `${path}: cdh.toml ${sources.sigstoreConfig.field}`,
        text: new TextDecoder().decode(sources.sigstoreConfig.bytes),
      },
    ])
  } else if (sources.sigstoreConfig.kind === 'file') {
    const bytes = await readInput(sources.sigstoreConfig.path, { what: 'sigstore config' })
    registriesD = parseRegistriesD([
      { name: sources.sigstoreConfig.path, text: new TextDecoder().decode(bytes) },
    ])
  }
  return {
    policy: parseImagePolicy(policyBytes, {
      dialect: args.values['image-rs'] === true ? 'image-rs' : 'containers-image',
    }),
    source,
    registriesD:
      registriesD ?? (forRegistry ? await registriesDOption(args, false) : { docker: new Map() }),
    hostDefaults: false,
    warnings,
  }
}

async function registriesDOption(
  args: ParsedArgs,
  hostDefaults: boolean,
): Promise<RegistriesDConfig> {
  const dir = stringOption(args, 'registries-d')
  if (dir !== undefined) return loadRegistriesD(dir)
  return hostDefaults
    ? loadRegistriesD(SYSTEM_REGISTRIES_D, { allowMissing: true })
    : { docker: new Map() }
}

/**
 * The policy (from `--policy` or `--initdata`) and, for a registry image, the registries.d
 * configuration (`forRegistry` false reads none: local images have no lookaside).
 */
export async function loadPolicy(
  args: ParsedArgs,
  io: CliIo,
  forRegistry = true,
): Promise<PolicyOrigin> {
  const policyPath = stringOption(args, 'policy')
  const initdataPath = stringOption(args, 'initdata')
  if ((policyPath === undefined) === (initdataPath === undefined)) {
    throw new UsageError('ERR_USAGE', 'give exactly one of --policy FILE and --initdata FILE', {
      hint: 'images are only checked against an explicit policy; there is no default that allows everything',
    })
  }
  if (initdataPath !== undefined) return policyFromInitdata(initdataPath, args, io, forRegistry)
  // With --policy they would check nothing: refused, so no one believes a binding was checked.
  const stray = INITDATA_ONLY_OPTIONS.filter((name) => optionGiven(args, name))
  if (stray.length > 0) {
    const names = stray.map((name) => `--${name}`).join(', ')
    throw new UsageError(
      'ERR_OPTION_NOT_APPLICABLE',
      `${names} appl${stray.length === 1 ? 'ies' : 'y'} only with --initdata; the policy here is --policy ${policyPath ?? ''}`,
      {
        details: { option: names },
        hint: `drop ${names}, or take the policy from a verified document with --initdata FILE --tee T --expected VALUE`,
      },
    )
  }
  const path = policyPath ?? ''
  const bytes = await readInput(path, {
    what: 'policy file',
    stdin: io.stdin,
    maxSize: 4 * 1024 * 1024,
  })
  return {
    policy: parseImagePolicy(
      utf8ToString(bytes, { field: path === '-' ? 'standard input' : path }),
      {
        dialect: args.values['image-rs'] === true ? 'image-rs' : 'containers-image',
      },
    ),
    source: path,
    registriesD: forRegistry ? await registriesDOption(args, true) : { docker: new Map() },
    hostDefaults: forRegistry,
    warnings: [],
  }
}

/**
 * The credentials of `--authfile`, else of the default docker config. A file the user named must
 * be read; the default one may be absent (anonymous access), but one that exists and cannot be
 * read is refused, never taken as absent.
 */
async function credentialsOption(args: ParsedArgs): Promise<CheckImageOptions['credentials']> {
  const explicit = stringOption(args, 'authfile')
  const config =
    explicit === undefined ? await loadDefaultDockerConfig() : await loadDockerConfig(explicit)
  return config === undefined ? undefined : dockerConfigCredentials(config)
}

/**
 * How to reach registries, from `--insecure-registry`, `--platform` and `--authfile` (default the
 * user's docker config when it exists): shared by `image check|pull` and `agent pull-image`.
 */
export async function registryAccessOptions(
  args: ParsedArgs,
): Promise<Pick<CheckImageOptions, 'insecureRegistries' | 'platform' | 'credentials'>> {
  const platform = parsedOption(args, 'platform', PLATFORM_VALUE)
  const credentials = await credentialsOption(args)
  return {
    insecureRegistries: listOption(args, 'insecure-registry'),
    ...(platform === undefined ? {} : { platform }),
    ...(credentials === undefined ? {} : { credentials }),
  }
}

/** The registry, lookaside and time settings of a check, from the command line. */
export async function checkOptions(
  args: ParsedArgs,
  origin: PolicyOrigin,
): Promise<CheckImageOptions> {
  const now = parsedOption(args, 'at', TIME_VALUE)
  return {
    policy: origin.policy,
    registriesD: origin.registriesD,
    ...(await registryAccessOptions(args)),
    ...(origin.hostDefaults ? { defaultLookaside: defaultLookasideStore() } : {}),
    ...(now === undefined ? {} : { now }),
  }
}
