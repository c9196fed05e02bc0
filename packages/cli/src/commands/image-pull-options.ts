/**
 * The options and arguments `image pull` and `agent pull-image` share: how to reach a registry
 * (credentials, plain HTTP, platform), how many layers at once, and `REF DEST`. None of them
 * chooses a policy or a lookaside store. Kept free of the image packages, so the agent command
 * group stays light to load.
 *
 * @module
 */
import { UsageError } from '@initguard/core'
import {
  parsedOption,
  type OptionSpec,
  type ParsedArgs,
  type StringOptionSpec,
} from '../command.ts'
import { PATH_VALUE, PLATFORM_VALUE, integerValue, type OptionValue } from '../option-values.ts'

/** `--concurrency N`: layer downloads at once. */
export const CONCURRENCY_VALUE: OptionValue<number> = integerValue(1, 16, 'layer downloads at once')

/** `--concurrency`, as the pull commands take it. */
export const CONCURRENCY_OPTION: StringOptionSpec = {
  type: 'string',
  value: CONCURRENCY_VALUE,
  valueName: 'N',
  help: 'layer downloads at once (1–16); default 3',
}

/** How to reach a registry: `--authfile`, `--platform` (`--insecure-registry` is `image`'s). */
export const REGISTRY_ACCESS_OPTIONS: Readonly<Record<'authfile' | 'platform', OptionSpec>> = {
  authfile: {
    type: 'string',
    value: PATH_VALUE,
    valueName: 'FILE',
    help: 'docker config.json with registry credentials; default $DOCKER_CONFIG/config.json or ~/.docker/config.json if it exists',
  },
  platform: {
    type: 'string',
    value: PLATFORM_VALUE,
    valueName: 'OS/ARCH',
    help: 'the platform picked from a manifest list, default linux/amd64; spellings are normalised as containerd does (aarch64 = arm64 = arm64/v8, x86_64 = amd64, armhf = arm = arm/v7), then matched exactly; of several manifests for it the first is taken only if all name one config (copies of one image), else they are refused',
  },
}

/** skopeo users write `docker://host/repo:tag`; the transport prefix is accepted and dropped. */
export function registryReference(reference: string): string {
  return reference.startsWith('docker://') ? reference.slice('docker://'.length) : reference
}

/** A local image: `dir:PATH`, or `oci:DIR[:REF]` (not `oci:5000/…`, a registry host named oci). */
export interface LocalImage {
  readonly transport: 'dir' | 'oci'
  readonly location: string
}

/** The local image `reference` names, or undefined for a registry reference. */
export function localImage(reference: string): LocalImage | undefined {
  const match = /^(dir|oci):(.+)$/.exec(reference)
  const [, transport, location = ''] = match ?? []
  if ((transport !== 'dir' && transport !== 'oci') || /^\d+\//.test(location)) return undefined
  return { transport, location }
}

/** What a pull command's arguments say, whatever its policy comes from. */
export interface PullArguments {
  /** REF as written. */
  readonly given: string
  /** REF without `docker://`. */
  readonly reference: string
  readonly dest: string
  /** `--concurrency`, default 3. */
  readonly concurrency: number
  /** `--json`. */
  readonly json: boolean
}

/**
 * A pull's `REF DEST` (REF a registry image, never `dir:` or `oci:`), `--concurrency`, `--json`.
 *
 * @param command - e.g. `image pull`, for hints.
 * @param options - `concurrency: false` for a command without `--concurrency` (`agent
 *   pull-image` takes it from the verified document): the default 3 is returned then.
 * @throws {@link UsageError} `ERR_USAGE`.
 */
export function pullArguments(
  args: ParsedArgs,
  command: string,
  options: { readonly concurrency: boolean } = { concurrency: true },
): PullArguments {
  if (args.positionals.length !== 2) {
    throw new UsageError('ERR_USAGE', 'expected REF and DEST', {
      hint: `see \`initguard ${command} --help\``,
    })
  }
  const [given = '', dest = ''] = args.positionals
  if (localImage(given) !== undefined) {
    throw new UsageError(
      'ERR_USAGE',
      `${command} reads registry images; dir: and oci: images can only be checked`,
      {
        hint: 'use `initguard image check dir:PATH`',
      },
    )
  }
  return {
    given,
    reference: registryReference(given),
    dest,
    concurrency:
      (options.concurrency ? parsedOption(args, 'concurrency', CONCURRENCY_VALUE) : undefined) ?? 3,
    json: args.values['json'] === true,
  }
}
