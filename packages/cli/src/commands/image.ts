/**
 * `initguard image check | pull`: the policy decision for an image, and a pull that happens only
 * when the policy allows it. Exit 0 when accepted, 5 when the policy refuses.
 *
 * @module
 */
import { checkDirImage, checkImage, checkOciLayoutImage, computeDigest } from '@initguard/oci'
import { UsageError } from '@initguard/core'
import type { PolicyDecision } from '@initguard/image-policy'
import { onePositional, parsedOption, type Command, type ParsedArgs } from '../command.ts'
import { TIME_VALUE } from '../option-values.ts'
import type { CliIo } from '../cli-io.ts'
import { emit } from '../output.ts'
import { IMAGE_OPTIONS, checkOptions, loadPolicy } from './image-input.ts'
import {
  CONCURRENCY_OPTION,
  localImage,
  pullArguments,
  registryReference,
  type LocalImage,
} from './image-pull-options.ts'
import { runImagePull } from './image-pull-run.ts'
import { checkedJson, decisionExitCode, decisionJson, describeDecision } from './image-report.ts'

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
      json: checkedJson(origin.source, checked),
      text: [
        `${checked.reference.text} (${checked.topManifest?.digest ?? 'not fetched: the policy rejects it whatever it is'})`,
        ...describeDecision(checked.decision),
      ].join('\n'),
      warnings: origin.warnings,
    })
    return decisionExitCode(checked.decision)
  },
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
    'empty (exit 2, ERR_PULL_DEST_NOT_EMPTY, otherwise). Of two pulls into the same DEST, the first',
    'to finish wins; the other exits 2 with the same code and writes nothing there. Stopped by',
    'Ctrl-C, SIGTERM or SIGHUP, it exits 128 + the signal (130 for Ctrl-C) with nothing left:',
    'the downloads stop, the staging directory and blobs are removed, DEST stays as it was.',
    '',
    'Example: initguard image pull quay.io/org/app:v1 ./rootfs --policy policy.json',
  ].join('\n'),
  options: {
    ...IMAGE_OPTIONS,
    concurrency: CONCURRENCY_OPTION,
  },
  async run(args, io) {
    const pull = pullArguments(args, 'image pull')
    const origin = await loadPolicy(args, io)
    return runImagePull(
      {
        ...pull,
        policySource: origin.source,
        warnings: origin.warnings,
        check: await checkOptions(args, origin),
      },
      io,
    )
  },
}
