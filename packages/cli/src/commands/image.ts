/**
 * `initguard image check | pull`: the policy decision for an image, and a pull that happens only
 * when the policy allows it. Exit 0 when accepted, 5 when the policy refuses.
 *
 * @module
 */
import {
  ImagePolicyRejectedError,
  checkDirImage,
  checkImage,
  checkOciLayoutImage,
  computeDigest,
  pullImage,
  type BlobProgress,
  type CheckedImage,
} from '@initguard/oci'
import { UsageError } from '@initguard/core'
import type { PolicyDecision } from '@initguard/image-policy'
import { onePositional, parsedOption, type Command, type ParsedArgs } from '../command.ts'
import { TIME_VALUE, integerValue } from '../option-values.ts'

const CONCURRENCY = integerValue(1, 16, 'layer downloads at once')
import { EXIT_CODES } from '../exit-codes.ts'
import type { CliIo } from '../cli-io.ts'
import { emit } from '../output.ts'
import { IMAGE_OPTIONS, checkOptions, loadPolicy, type PolicyOrigin } from './image-input.ts'

/**
 * The exit code for a decision: 0 accepted, 5 refused; but when every failing requirement failed
 * on the policy's own broken trust material (a key file unreadable or not a key), that error's
 * code (7, 3), so a script can tell a broken policy from a refused image.
 */
export function decisionExitCode(decision: PolicyDecision): number {
  if (decision.accepted) return 0
  const failed = decision.requirements.filter((r) => !r.accepted)
  const [first] = failed
  if (first?.keyError === undefined || failed.some((r) => r.keyError === undefined)) return 5
  return EXIT_CODES[first.keyError]
}

/** skopeo users write `docker://host/repo:tag`; the transport prefix is accepted and dropped. */
function registryReference(reference: string): string {
  return reference.startsWith('docker://') ? reference.slice('docker://'.length) : reference
}

/** A local image: `dir:PATH`, or `oci:DIR[:REF]` (not `oci:5000/…`, a registry host named oci). */
interface LocalImage {
  readonly transport: 'dir' | 'oci'
  readonly location: string
}

function localImage(reference: string): LocalImage | undefined {
  const match = /^(dir|oci):(.+)$/.exec(reference)
  const [, transport, location = ''] = match ?? []
  if ((transport !== 'dir' && transport !== 'oci') || /^\d+\//.test(location)) return undefined
  return { transport, location }
}

const REGISTRY_ONLY_OPTIONS = ['registries-d', 'authfile', 'insecure-registry', 'platform']

async function checkLocal(local: LocalImage, args: ParsedArgs, io: CliIo): Promise<number> {
  const given = REGISTRY_ONLY_OPTIONS.filter((name) => args.values[name] !== undefined)
  if (given.length > 0) {
    throw new UsageError(
      'ERR_USAGE',
      `${given.map((n) => `--${n}`).join(', ')} only apply to registry images, not ${local.transport}: images`,
      {
        hint: 'drop them, or check the image in its registry',
      },
    )
  }
  const origin = await loadPolicy(args, io, false)
  const at = parsedOption(args, 'at', TIME_VALUE)
  const when = at === undefined ? {} : { now: at }
  let name: string
  let manifestDigest: string
  let decision: PolicyDecision
  if (local.transport === 'dir') {
    const checked = await checkDirImage(local.location, origin.policy, when)
    ;({ decision } = checked)
    name = `dir:${checked.path}`
    manifestDigest = computeDigest(checked.image.manifest)
  } else {
    const checked = await checkOciLayoutImage(local.location, origin.policy, when)
    ;({ decision } = checked)
    const colon = local.location.indexOf(':')
    name = `oci:${checked.path}${colon === -1 ? '' : local.location.slice(colon)}`
    manifestDigest = checked.descriptor.digest
  }
  emit(io, args.values['json'] === true, {
    json: {
      ok: decision.accepted,
      reference: name,
      manifestDigest,
      policy: origin.source,
      decision: decisionJson(decision),
    },
    text: [`${name} (${manifestDigest})`, ...describeDecision(decision)].join('\n'),
    warnings: origin.warnings,
  })
  return decisionExitCode(decision)
}

/** The decision as text: scope, each requirement, each signature. */
export function describeDecision(decision: PolicyDecision): string[] {
  const { scope } = decision
  const lines = [
    `${decision.accepted ? 'accepted' : 'REFUSED'}: ${decision.reason}`,
    `scope: ${scope.field}${scope.tried.length > 0 ? ` (tried before it: ${scope.tried.map((s) => JSON.stringify(s)).join(', ')})` : ''}`,
  ]
  for (const r of decision.requirements) {
    lines.push(`  ${r.accepted ? 'ok  ' : 'FAIL'} ${r.field} ${r.type}: ${r.reason}`)
    for (const s of r.signatures) {
      lines.push(
        `         ${s.accepted ? 'accepted' : 'refused '} ${s.source}: ${s.reason}${s.code === undefined ? '' : ` [${s.code}]`}`,
      )
    }
  }
  return lines
}

/** The decision as JSON: the scope without its requirement objects (they hold key bytes). */
export function decisionJson(decision: PolicyDecision): Record<string, unknown> {
  const { requirements: _requirements, ...scope } = decision.scope
  return { ...decision, scope }
}

function checkedJson(origin: PolicyOrigin, checked: CheckedImage): Record<string, unknown> {
  return {
    ok: checked.decision.accepted,
    reference: checked.reference.text,
    policy: origin.source,
    // null when the policy's reject refused the image before anything was fetched.
    manifestDigest: checked.topManifest?.digest ?? null,
    imageManifestDigest: checked.imageManifest?.digest ?? null,
    ...(checked.platform === undefined ? {} : { platform: checked.platform }),
    signatureSources: checked.signatureSources ?? null,
    decision: decisionJson(checked.decision),
  }
}

export const imageCheckCommand: Command = {
  name: 'check',
  summary: 'Decide whether a policy allows an image: exit 0 when accepted, 5 when refused.',
  usage: 'REF',
  description: [
    'REF is a registry reference (host/path:tag or host/path@sha256:…; docker.io and library/ as',
    'Docker normalises them), dir:PATH for an image `skopeo copy … dir:PATH` wrote, or oci:DIR[:REF]',
    'for an OCI layout (scoped by path under transports.dir / transports.oci). Only manifests and',
    'signatures are fetched: simple signing signatures',
    'from the lookaside store registries.d names, cosign signatures from the sha256-<hex>.sig tag',
    'when registries.d sets use-sigstore-attachments. The report names the scope that matched,',
    'each requirement, and why each signature was refused.',
    '',
    'Example: initguard image check quay.io/org/app:v1 --policy policy.json --registries-d ./registries.d',
  ].join('\n'),
  options: IMAGE_OPTIONS,
  async run(args, io) {
    const given = onePositional(args, 'REF', 'image check')
    const local = localImage(given)
    if (local !== undefined) return checkLocal(local, args, io)
    const reference = registryReference(given)
    const origin = await loadPolicy(args, io)
    const checked = await checkImage(reference, await checkOptions(args, origin))
    emit(io, args.values['json'] === true, {
      json: checkedJson(origin, checked),
      text: [
        `${checked.reference.text} (${checked.topManifest?.digest ?? 'not fetched: the policy rejects it whatever it is'})`,
        ...describeDecision(checked.decision),
      ].join('\n'),
      warnings: origin.warnings,
    })
    return decisionExitCode(checked.decision)
  },
}

/** A progress line on a terminal, redrawn in place; nothing when stderr is not a terminal. */
function progressReporter(io: CliIo): ((progress: BlobProgress) => void) | undefined {
  if (io.stderr.isTTY !== true) return undefined
  const layers = new Map<string, BlobProgress>()
  let last = 0
  return (progress) => {
    layers.set(progress.digest, progress)
    const now = Date.now()
    const received = [...layers.values()].reduce((sum, p) => sum + p.received, 0)
    const total = [...layers.values()].reduce((sum, p) => sum + p.total, 0)
    if (now - last < 100 && received < total) return
    last = now
    const mib = (n: number): string => (n / 1024 / 1024).toFixed(1)
    io.stderr.write(`\r  layers: ${layers.size}, ${mib(received)} / ${mib(total)} MiB`)
    if (received === total) io.stderr.write('\n')
  }
}

export const imagePullCommand: Command = {
  name: 'pull',
  summary:
    'Check an image against a policy, then pull and unpack it into DEST: exit 5 when refused.',
  usage: 'REF DEST',
  description: [
    'The decision comes first (as `image check`); nothing but manifests and signatures is fetched',
    'for a refused image. Layers are downloaded a few at a time, each checked against its digest,',
    'unpacked in order (OCI whiteouts; nothing may escape DEST) into a staging directory that',
    'becomes DEST only when every layer unpacked and matched the config. DEST must not exist or be',
    'empty.',
    '',
    'Example: initguard image pull quay.io/org/app:v1 ./rootfs --policy policy.json',
  ].join('\n'),
  options: {
    ...IMAGE_OPTIONS,
    concurrency: {
      type: 'string',
      value: CONCURRENCY,
      valueName: 'N',
      help: 'layer downloads at once (1–16); default 3',
    },
  },
  async run(args, io) {
    if (args.positionals.length !== 2) {
      throw new UsageError('ERR_USAGE', 'expected REF and DEST', {
        hint: 'see `initguard image pull --help`',
      })
    }
    const [given = '', dest = ''] = args.positionals
    if (localImage(given) !== undefined) {
      throw new UsageError(
        'ERR_USAGE',
        'image pull reads registry images; dir: and oci: images can only be checked',
        {
          hint: 'use `initguard image check dir:PATH`',
        },
      )
    }
    const concurrency = parsedOption(args, 'concurrency', CONCURRENCY) ?? 3
    const origin = await loadPolicy(args, io)
    const onProgress = progressReporter(io)
    const json = args.values['json'] === true
    // Ctrl-C stops the downloads and removes the staging directory before the process ends.
    const interrupt = new AbortController()
    const onSignal = (): void => {
      interrupt.abort()
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      const reference = registryReference(given)
      const pulled = await pullImage(reference, dest, {
        ...(await checkOptions(args, origin)),
        signal: interrupt.signal,
        concurrency,
        ...(onProgress === undefined ? {} : { onProgress }),
      })
      emit(io, json, {
        json: {
          ...checkedJson(origin, pulled.checked),
          dest: pulled.dest,
          layers: pulled.layers,
          files: pulled.files,
          skipped: pulled.skipped,
        },
        text: [
          ...describeDecision(pulled.checked.decision),
          `pulled ${pulled.checked.reference.text} into ${pulled.dest}: ${pulled.layers} layers, ${pulled.files} files${pulled.skipped.length > 0 ? `, ${pulled.skipped.length} entries skipped` : ''}`,
        ].join('\n'),
        warnings: origin.warnings,
      })
      return 0
    } catch (error) {
      if (!(error instanceof ImagePolicyRejectedError)) throw error
      emit(io, json, {
        json: {
          ok: false,
          reference: given,
          policy: origin.source,
          decision: decisionJson(error.decision),
          error: error.toJSON(),
        },
        text: [...describeDecision(error.decision), 'nothing was pulled'].join('\n'),
        warnings: origin.warnings,
      })
      return decisionExitCode(error.decision)
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  },
}
