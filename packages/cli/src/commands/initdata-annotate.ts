/**
 * `initguard initdata annotate`: put the Kata initdata annotation on every pod template.
 *
 * @module
 */
import { readInput } from '@initguard/files'
import { UsageError, bytesToHex, stringToUtf8, utf8ToString } from '@initguard/core'
import { KATA_INITDATA_ANNOTATION, encodeAnnotation } from '@initguard/initdata'
import { annotatePodTemplates } from '@initguard/initdata/kubernetes'
import {
  JSON_OPTION,
  onePositional,
  requiredOption,
  stringOption,
  type Command,
} from '../command.ts'
import { PATH_VALUE } from '../option-values.ts'
import { emit } from '../output.ts'
import {
  FROM_OPTION,
  INPUT_FORMATS,
  OUTPUT_OPTION,
  readDocumentFile,
  replaceFile,
} from './initdata-input.ts'
import { choice } from '../command.ts'

export const annotateCommand: Command = {
  name: 'annotate',
  summary: `Add the ${KATA_INITDATA_ANNOTATION} annotation to every pod template in a manifest.`,
  usage: 'MANIFEST',
  description: [
    'MANIFEST is multi-document Kubernetes YAML (- for standard input). Pod, Deployment,',
    'StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob and List items are',
    'annotated; other documents are left alone. Everything else stays byte for byte as it was',
    'apart from the inserted lines (an empty `annotations: {}` or `metadata: {}` is replaced). A',
    'workload whose pod template cannot be placed safely (a flow map with entries, aliases, a',
    'missing template) is refused and nothing is written.',
    '',
    'Example: initguard initdata annotate deploy.yaml --initdata initdata.toml --in-place',
  ].join('\n'),
  options: {
    initdata: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'the initdata document to carry',
    },
    from: { ...FROM_OPTION, help: 'what --initdata holds: toml (default), annotation or image' },
    output: OUTPUT_OPTION,
    'in-place': { type: 'boolean', help: 'rewrite MANIFEST itself (atomically)' },
    json: JSON_OPTION,
  },
  async run(args, io) {
    const manifestPath = onePositional(args, 'MANIFEST', 'initdata annotate')
    const inPlace = args.values['in-place'] === true
    const output = stringOption(args, 'output')
    if (inPlace && (output !== undefined || manifestPath === '-')) {
      throw new UsageError(
        'ERR_USAGE',
        '--in-place rewrites MANIFEST: it cannot be combined with -o or standard input',
      )
    }
    const from = choice(stringOption(args, 'from') ?? 'toml', INPUT_FORMATS, 'from')
    const initdataPath = requiredOption(args, 'initdata', 'initdata annotate')
    if (initdataPath === '-' && manifestPath === '-') {
      throw new UsageError('ERR_USAGE', 'only one of MANIFEST and --initdata can be standard input')
    }
    const document = await readDocumentFile(initdataPath, io, {
      from,
      hasFrom: true,
      option: 'initdata',
    })
    const manifest = utf8ToString(
      await readInput(manifestPath, { what: 'manifest', stdin: io.stdin }),
      {
        field: 'manifest',
      },
    )
    const result = annotatePodTemplates(manifest, {
      key: KATA_INITDATA_ANNOTATION,
      value: encodeAnnotation(document.bytes),
    })
    const target = inPlace ? manifestPath : output
    const json = args.values['json'] === true
    if (target !== undefined && target !== '-') {
      // A private manifest (often with Secrets beside the workload) stays private; a link stays.
      await replaceFile(target, stringToUtf8(result.text), 'manifest')
    } else if (!json) {
      io.stdout.write(result.text)
    }
    const lines = result.placements.map(
      (p) =>
        `${p.kind}${p.name === undefined ? '' : ` ${p.name}`} (document ${p.document}): ${p.action} at ${p.path}, line ${p.line}`,
    )
    const summary = {
      json: {
        annotation: KATA_INITDATA_ANNOTATION,
        algorithm: document.algorithm,
        digest: bytesToHex(document.digest),
        placements: result.placements,
        skipped: result.skipped,
        ...(target === undefined || target === '-'
          ? { manifest: result.text }
          : { output: target }),
      },
      text: lines.join('\n'),
    }
    if (json) emit(io, true, summary)
    else if (target !== undefined && target !== '-') emit(io, false, summary)
    else io.stderr.write(summary.text + '\n')
    return 0
  },
}
