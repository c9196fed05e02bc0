/**
 * `initguard initdata build`: render a document from its parts.
 *
 * @module
 */
import { readInput } from '@initguard/files'
import { UsageError, bytesToHex, utf8ToString } from '@initguard/core'
import {
  INITDATA_ALGORITHMS,
  TEE_FIELDS,
  TEE_KINDS,
  bestAlgorithmFor,
  parseConfigToml,
  parseInitdata,
  renderInitdata,
  unsafeDataKeyReason,
} from '@initguard/initdata'
import { JSON_OPTION, choice, parsedList, stringOption, type Command } from '../command.ts'
import { PATH_VALUE, checkedValue, choiceValue, type OptionValue } from '../option-values.ts'
import { emit } from '../output.ts'
import { OUTPUT_OPTION, outputPath, replaceFile } from './initdata-input.ts'

const PART_OPTIONS = {
  aa: { option: 'aa', key: 'aa.toml' },
  cdh: { option: 'cdh', key: 'cdh.toml' },
  policy: { option: 'policy', key: 'policy.rego' },
} as const

/**
 * `--data KEY=FILE` (split at the first `=`): KEY must be a `[data]` key the guest agent accepts,
 * by the agent's own rule ({@link unsafeDataKeyReason}). A key such as `../x`, `a/b`, `.hidden`
 * or one with a newline would give a document whose digest a guest is launched with, only for
 * `agent start` to refuse it there (exit 3, `ERR_AGENT_DATA_KEY_UNSAFE`).
 */
const DATA_ENTRY_VALUE: OptionValue<{ readonly key: string; readonly file: string }> = checkedValue(
  { name: 'data-entry' },
  'KEY=FILE, KEY a [data] key the guest agent accepts (letters, digits, ".", "_", "-", starting with a letter or digit) and FILE a path',
  'extra.toml=extra.toml',
  (text, refuse) => {
    const at = text.indexOf('=')
    if (at === -1) return refuse('e.g. --data auth.json=./auth.json')
    const key = text.slice(0, at)
    const file = text.slice(at + 1)
    const reason = unsafeDataKeyReason(key)
    if (reason !== undefined) return refuse(reason)
    if (file === '' || file.includes('\0')) return refuse('give the file after the "="')
    return { key, file }
  },
)

export const buildCommand: Command = {
  name: 'build',
  summary: 'Render an initdata document from configuration files, deterministically.',
  usage: '',
  description: [
    'The same files always give the same bytes (keys sorted, fixed layout), so the digest can be',
    'recomputed anywhere. aa.toml and cdh.toml are checked to be valid TOML before they are',
    'embedded: a broken file would otherwise only show up inside the guest.',
    '',
    'The algorithm is --algorithm, or the longest that fits --for-tee whole (snp: sha256,',
    'tdx: sha384, sgx/cca: sha512, vtpm: sha256), or sha384.',
    '',
    'Without -o the document goes to standard output (with --json, as the "document" string of',
    'the JSON object). A FILE given as - is standard input, which only one file can be.',
    '',
    'Example: initguard initdata build --aa aa.toml --cdh cdh.toml --policy policy.rego --for-tee snp -o initdata.toml',
  ].join('\n'),
  options: {
    aa: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'the attestation agent config, as data."aa.toml"',
    },
    cdh: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'the confidential data hub config, as data."cdh.toml"',
    },
    policy: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'the agent policy, as data."policy.rego"',
    },
    data: {
      type: 'string',
      value: DATA_ENTRY_VALUE,
      multiple: true,
      valueName: 'KEY=FILE',
      help: 'any other entry',
    },
    algorithm: {
      type: 'string',
      value: choiceValue(INITDATA_ALGORITHMS),
      valueName: 'ALG',
      help: INITDATA_ALGORITHMS.join(', '),
    },
    'for-tee': {
      type: 'string',
      value: choiceValue(TEE_KINDS),
      valueName: 'TEE',
      help: 'pick the algorithm that fits this TEE field whole',
    },
    output: OUTPUT_OPTION,
    json: JSON_OPTION,
  },
  async run(args, io) {
    if (args.positionals.length > 0) {
      throw new UsageError(
        'ERR_USAGE',
        `unexpected argument ${JSON.stringify(args.positionals[0])}`,
        {
          hint: 'give the files with --aa, --cdh, --policy and --data KEY=FILE',
        },
      )
    }
    const algorithm = pickAlgorithm(stringOption(args, 'algorithm'), stringOption(args, 'for-tee'))
    const sources = new Map<string, string>()
    for (const { option, key } of Object.values(PART_OPTIONS)) {
      const file = stringOption(args, option)
      if (file !== undefined) sources.set(key, file)
    }
    for (const { key, file } of parsedList(args, 'data', DATA_ENTRY_VALUE)) {
      if (sources.has(key)) {
        throw new UsageError('ERR_USAGE', `data key ${JSON.stringify(key)} is given twice`, {
          hint: 'give each key once (--aa, --cdh and --policy are the keys aa.toml, cdh.toml and policy.rego)',
        })
      }
      sources.set(key, file)
    }
    if (sources.size === 0) {
      throw new UsageError('ERR_USAGE', 'no configuration given', {
        hint: 'give at least one of --aa, --cdh, --policy or --data KEY=FILE',
      })
    }
    const data = new Map<string, string>()
    for (const [key, file] of sources) {
      const text = utf8ToString(await readInput(file, { what: `data."${key}"`, stdin: io.stdin }), {
        field: `${file} (data."${key}")`,
      })
      if (key.endsWith('.toml')) checkToml(key, file, text)
      data.set(key, text)
    }
    const bytes = renderInitdata({ algorithm, data })
    const document = parseInitdata(bytes)
    const summary = {
      algorithm,
      keys: [...document.data.keys()],
      size: bytes.length,
      digest: bytesToHex(document.digest),
    }
    const json = args.values['json'] === true
    const output = outputPath(args)
    if (output === undefined) {
      // The document itself on standard output; with --json, inside the one JSON object.
      if (json) emit(io, true, { json: { ...summary, document: utf8ToString(bytes) }, text: '' })
      else io.stdout.write(bytes)
      return 0
    }
    await replaceFile(output, bytes, 'initdata document')
    emit(io, json, {
      json: { output, ...summary },
      text: `wrote ${output} (${bytes.length} bytes, ${algorithm} ${summary.digest})`,
    })
    return 0
  },
}

function pickAlgorithm(
  algorithm: string | undefined,
  forTee: string | undefined,
): (typeof INITDATA_ALGORITHMS)[number] {
  if (algorithm !== undefined && forTee !== undefined) {
    throw new UsageError('ERR_USAGE', 'give --algorithm or --for-tee, not both')
  }
  if (algorithm !== undefined) return choice(algorithm, INITDATA_ALGORITHMS, 'algorithm')
  if (forTee !== undefined)
    return bestAlgorithmFor(TEE_FIELDS[choice(forTee, TEE_KINDS, 'for-tee')].length)
  return 'sha384'
}

/**
 * Refuse a TOML part the guest component reading it would refuse or read differently, with the
 * checks every TOML parse site shares (syntax, TOML 1.1, line ends, numbers and dates).
 */
function checkToml(key: string, file: string, text: string): void {
  parseConfigToml(text, {
    code: 'ERR_INITDATA_PART_TOML',
    what: `${file} (data."${key}")`,
    details: { field: `data.${key}`, path: file },
    hint: 'fix the file; the guest component that reads it would refuse it',
  })
}
