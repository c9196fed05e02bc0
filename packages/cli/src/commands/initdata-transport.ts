/**
 * `initguard initdata encode | decode | image | read-image`: the forms a document travels in.
 *
 * @module
 */
import { stat } from 'node:fs/promises'
import { readInput } from '@initguard/files'
import { UsageError, stringToUtf8 } from '@initguard/core'
import {
  KATA_INITDATA_ANNOTATION,
  buildInitdataImage,
  encodeAnnotation,
  parseInitdata,
} from '@initguard/initdata'
import { JSON_OPTION, onePositional, stringOption, type Command } from '../command.ts'
import { PATH_VALUE } from '../option-values.ts'
import { reply } from '../output.ts'
import { OUTPUT_OPTION, readDocumentFile, writeOutput } from './initdata-input.ts'
import { documentBytesAs, fileSource, readAsForm } from './initdata-input-kind.ts'

/** Check that decoded bytes are a document, naming what they are when they are something else. */
function validateDecoded(document: Uint8Array, where: string): void {
  readAsForm(document, 'toml', { where }, false, parseInitdata)
}

const NO_VALIDATE = {
  type: 'boolean',
  help: 'do not check that the result is a valid initdata document',
} as const

export const encodeCommand: Command = {
  name: 'encode',
  summary: `Print the ${KATA_INITDATA_ANNOTATION} annotation value: base64(gzip(FILE)).`,
  usage: 'FILE',
  description: [
    'The document is validated first; one over 16 MiB is refused, as decode would refuse it.',
    'Example: initguard initdata encode initdata.toml > annotation.txt',
  ].join('\n'),
  options: { json: JSON_OPTION },
  async run(args, io) {
    const { bytes } = await readDocumentFile(onePositional(args, 'FILE', 'initdata encode'), io)
    const value = encodeAnnotation(bytes)
    return reply(io, args, {
      json: { annotation: KATA_INITDATA_ANNOTATION, value, length: value.length },
      text: value,
    })
  },
}

export const decodeCommand: Command = {
  name: 'decode',
  summary: 'Decode an annotation value back to the exact document bytes.',
  usage: '[VALUE]',
  description: [
    'VALUE is the annotation value; or give --from-file FILE (- for standard input). Accepts one',
    'gzip member from any tool (e.g. `gzip -c doc.toml | base64 -w0`) and wrapped base64; like the',
    'Kata runtime, refuses other blanks and several gzip members. The document is validated',
    'unless --no-validate.',
  ].join('\n'),
  options: {
    'from-file': {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'read the value from FILE (- for standard input)',
    },
    output: OUTPUT_OPTION,
    'no-validate': NO_VALIDATE,
  },
  async run(args, io) {
    const file = stringOption(args, 'from-file')
    if ((file === undefined) === (args.positionals.length === 0) || args.positionals.length > 1) {
      throw new UsageError(
        'ERR_USAGE',
        'give the annotation value as one argument, or --from-file FILE',
        {
          hint: 'see `initguard initdata decode --help`',
        },
      )
    }
    const input =
      file === undefined
        ? stringToUtf8(args.positionals[0] ?? '')
        : await readInput(file, { what: 'annotation value', stdin: io.stdin })
    const source = file === undefined ? { where: 'the VALUE argument' } : fileSource(file)
    let document: Uint8Array
    try {
      document = documentBytesAs(input, 'annotation', source)
    } catch (error) {
      throw file === undefined
        ? ((await valueMeantAsFile(args.positionals[0] ?? '')) ?? error)
        : error
    }
    if (args.values['no-validate'] !== true) validateDecoded(document, 'the decoded value')
    await writeOutput(args, document, io, 'initdata document')
    return 0
  },
}

/**
 * When VALUE, which did not decode, is `-` or names a file, the usage error saying that VALUE is
 * the annotation value itself and `--from-file` reads one; otherwise undefined.
 */
async function valueMeantAsFile(value: string): Promise<UsageError | undefined> {
  const isFile =
    value === '-' ||
    (await stat(value).then(
      (info) => info.isFile(),
      () => false,
    ))
  if (!isFile) return undefined
  const what = value === '-' ? 'standard input' : `the file ${JSON.stringify(value)}`
  return new UsageError(
    'ERR_USAGE',
    `VALUE ${JSON.stringify(value)} is read as the annotation value itself, not from ${what}`,
    { hint: `to read the value from ${what}, give --from-file ${value}` },
  )
}

export const imageCommand: Command = {
  name: 'image',
  summary: 'Write the initdata block-device image for a document.',
  usage: 'FILE',
  description: [
    'Layout: "initdata" magic, u64 little-endian length, gzip(document), zero padding to 512 bytes.',
    'The document is validated first; one over 16 MiB is refused, as read-image would refuse it.',
  ].join('\n'),
  options: {
    output: { ...OUTPUT_OPTION, help: 'the image file to write (required: the image is binary)' },
    json: JSON_OPTION,
  },
  async run(args, io) {
    const output = stringOption(args, 'output')
    if (output === undefined || output === '-') {
      throw new UsageError('ERR_USAGE', 'give the image file with -o FILE', {
        hint: 'the image is binary',
      })
    }
    const { bytes } = await readDocumentFile(onePositional(args, 'FILE', 'initdata image'), io)
    const image = buildInitdataImage(bytes)
    await writeOutput(args, image, io, 'initdata image')
    return reply(io, args, {
      json: { output, size: image.length },
      text: `wrote ${output} (${image.length} bytes)`,
    })
  },
}

export const readImageCommand: Command = {
  name: 'read-image',
  summary: 'Print the document inside an initdata block-device image.',
  usage: 'IMAGE',
  description: 'The document is validated unless --no-validate.',
  options: { output: OUTPUT_OPTION, 'no-validate': NO_VALIDATE },
  async run(args, io) {
    const path = onePositional(args, 'IMAGE', 'initdata read-image')
    const image = await readInput(path, { what: 'initdata image', stdin: io.stdin })
    const document = documentBytesAs(image, 'image', fileSource(path))
    if (args.values['no-validate'] !== true) validateDecoded(document, "the image's document")
    await writeOutput(args, document, io, 'initdata document')
    return 0
  },
}
