/**
 * Reading initdata documents and expected values from the command line.
 *
 * @module
 */
import { realpath, stat } from 'node:fs/promises'
import { readInput, writeFileAtomic } from '@initguard/files'
import { UsageError, base64ToBytes, hexToBytes, isInitguardError } from '@initguard/core'
import { TEE_KINDS, type InitdataDocument, type TeeKind } from '@initguard/initdata'
import {
  choice,
  parsedOption,
  type ParsedArgs,
  type StringOptionSpec,
  stringOption,
} from '../command.ts'
import {
  PATH_VALUE,
  badValue,
  checkedValue,
  choiceValue,
  type OptionValue,
} from '../option-values.ts'
import type { CliIo } from '../cli-io.ts'
import { fileSource, parseDocumentAs } from './initdata-input-kind.ts'

/** The forms an initdata document can be given in. */
export const INPUT_FORMATS = ['toml', 'annotation', 'image'] as const
export type InputFormat = (typeof INPUT_FORMATS)[number]

/** `--from`: what FILE holds. */
export const FROM_OPTION: StringOptionSpec = {
  type: 'string',
  value: choiceValue(INPUT_FORMATS),
  valueName: 'FORMAT',
  help: 'what FILE holds: toml (the document, default), annotation (base64 of gzip, as in the pod), image (the block device)',
  default: 'toml',
}

/** `--tee`. */
export const TEE_OPTION: StringOptionSpec = {
  type: 'string',
  value: choiceValue(TEE_KINDS),
  valueName: 'TEE',
  help: `the TEE field: ${TEE_KINDS.join(', ')} (snp HOST_DATA 32 B, tdx MRCONFIGID 48 B, sgx CONFIGID 64 B, cca 64 B, se 256 B, vtpm PCR 8)`,
}

/** `--encoding`. */
export const ENCODING_OPTION: StringOptionSpec = {
  type: 'string',
  value: choiceValue(['hex', 'base64']),
  valueName: 'ENC',
  help: 'hex (default) or base64',
  default: 'hex',
}

/**
 * `--expected` decoded as `encoding` says (hex may carry a `0x` prefix), or why it cannot be.
 * Only whole, non-empty values decode: no whitespace, separators or odd digits.
 */
function decodeExpected(
  text: string,
  encoding: 'hex' | 'base64',
): { readonly bytes: Uint8Array } | { readonly hint: string } {
  const digits = encoding === 'hex' && text.startsWith('0x') ? text.slice(2) : text
  if (digits === '') return { hint: 'give the value the TEE reported; it is empty' }
  try {
    return {
      bytes:
        encoding === 'hex'
          ? hexToBytes(digits, { field: '--expected' })
          : base64ToBytes(digits, { field: '--expected' }),
    }
  } catch (error) {
    if (!isInitguardError(error)) throw error
    return { hint: [error.message, error.hint].filter((part) => part !== undefined).join(': ') }
  }
}

/**
 * `--expected`: a value the TEE reported, decoded by {@link expectedValue} with `--encoding` and
 * compared (or explained: `initdata explain` diagnoses truncated and mis-encoded values, so a
 * value of another length is not refused here). Text that is neither hex nor padded base64 is
 * refused before the command runs; text that does not decode in the `--encoding` given is
 * refused by {@link expectedValue}: both usage errors (exit 2, `ERR_OPTION_VALUE`), as every
 * malformed option value is.
 */
export const EXPECTED_VALUE: OptionValue<string> = checkedValue(
  { name: 'tee-field-value' },
  'a TEE field value: hex digits, or base64 with --encoding base64',
  '00',
  (text, refuse) => {
    if ('bytes' in decodeExpected(text, 'hex') || 'bytes' in decodeExpected(text, 'base64'))
      return text
    return refuse(
      'give hex digits (0-9, a-f; an even number), or padded base64 with --encoding base64; no spaces or separators',
    )
  },
)

/** Read and validate the document at `path` (`-` for standard input) in the form `--from` says. */
export async function loadDocument(
  path: string,
  args: ParsedArgs,
  io: CliIo,
): Promise<InitdataDocument> {
  const from = choice(stringOption(args, 'from') ?? 'toml', INPUT_FORMATS, 'from')
  return readDocumentFile(path, io, { from, hasFrom: true })
}

/** How {@link readDocumentFile} reads. */
export interface ReadDocumentOptions {
  /** The form the file holds; default `toml`. */
  readonly from?: InputFormat
  /** Whether the command takes `--from`, so the hint can name it. */
  readonly hasFrom?: boolean
  /** The option the path was given with (e.g. `expect-initdata`), for the message. */
  readonly option?: string
}

/**
 * Read and validate the initdata document at `path` (`-` for standard input). A file in another
 * form, or evidence, is refused with an error naming what it is and how to read it.
 */
export async function readDocumentFile(
  path: string,
  io: CliIo,
  options: ReadDocumentOptions = {},
): Promise<InitdataDocument> {
  const bytes = await readInput(path, { what: 'initdata input', stdin: io.stdin })
  const source = fileSource(path)
  return parseDocumentAs(
    bytes,
    options.from ?? 'toml',
    options.option === undefined
      ? source
      : { ...source, where: `--${options.option} ${source.where}` },
    options.hasFrom ?? false,
  )
}

/** The `--tee` option, required. */
export function teeOption(args: ParsedArgs, required: true): TeeKind
export function teeOption(args: ParsedArgs, required: false): TeeKind | undefined
export function teeOption(args: ParsedArgs, required: boolean): TeeKind | undefined {
  const value = stringOption(args, 'tee')
  if (value === undefined) {
    if (!required) return undefined
    throw new UsageError('ERR_USAGE', `missing --tee (one of ${TEE_KINDS.join(', ')})`)
  }
  return choice(value, TEE_KINDS, 'tee')
}

/**
 * Decode `--expected` in the `--encoding` given, with a hint when it is the other encoding.
 *
 * @throws {@link UsageError} `ERR_EXPECTED_MISSING` when not given, `ERR_OPTION_VALUE` when it
 *   does not decode (exit 2).
 */
export function expectedValue(args: ParsedArgs): Uint8Array {
  const text = parsedOption(args, 'expected', EXPECTED_VALUE)
  if (text === undefined) {
    // A missing value is a usage error (exit 2), never a value to compare against.
    throw new UsageError('ERR_EXPECTED_MISSING', 'missing --expected', {
      hint: 'give the field value the TEE reports (hex, or base64 with --encoding base64)',
    })
  }
  const encoding = choice(stringOption(args, 'encoding') ?? 'hex', ['hex', 'base64'], 'encoding')
  const decoded = decodeExpected(text, encoding)
  if ('bytes' in decoded) return decoded.bytes
  const other = encoding === 'hex' ? 'base64' : 'hex'
  const looksOther = 'bytes' in decodeExpected(text, other)
  throw badValue(
    'expected',
    text,
    encoding === 'hex' ? 'a TEE field value in hex' : 'a TEE field value in padded base64',
    looksOther
      ? `it is not ${encoding} but looks like ${other}: ${other === 'base64' ? 'add --encoding base64' : 'drop --encoding base64'}`
      : decoded.hint,
  )
}

/** Encode bytes for output in the `--encoding` given. */
export function encodeValue(bytes: Uint8Array, args: ParsedArgs): string {
  const encoding = choice(stringOption(args, 'encoding') ?? 'hex', ['hex', 'base64'], 'encoding')
  return Buffer.from(bytes).toString(encoding)
}

/** `-o/--output`. */
export const OUTPUT_OPTION: StringOptionSpec = {
  type: 'string',
  value: PATH_VALUE,
  short: 'o',
  valueName: 'FILE',
  help: 'write to FILE (atomically) instead of standard output',
}

/**
 * Write `bytes` to `target` atomically, as a replacement of what is there. The atomic write renames
 * a new file over the old one, so without care it would take the default mode 0644 and turn a
 * symbolic link into a plain file: a private (0600) file would become world-readable, and a link
 * into a checked-out configuration would be cut. So an existing file keeps its permission bits (the
 * umask can only narrow them), and a symbolic link is followed: the link stays and the file it
 * names is replaced. A path that does not exist yet is created (mode 0644, less the umask).
 *
 * @throws {@link LocalIoError} `ERR_FILE_WRITE`.
 */
export async function replaceFile(target: string, bytes: Uint8Array, what: string): Promise<void> {
  let path = target
  let mode: number | undefined
  try {
    path = await realpath(target)
    mode = (await stat(path)).mode & 0o777
  } catch {
    // Nothing there yet (or a dangling link): the write creates it, or says why it cannot.
  }
  await writeFileAtomic(path, bytes, { what, ...(mode === undefined ? {} : { mode }) })
}

/**
 * Write a command's output to `-o FILE` atomically ({@link replaceFile}), or to standard output;
 * returns the path written, or undefined for standard output.
 */
export async function writeOutput(
  args: ParsedArgs,
  bytes: Uint8Array,
  io: CliIo,
  what: string,
): Promise<string | undefined> {
  const path = outputPath(args)
  if (path === undefined) {
    io.stdout.write(bytes)
    return undefined
  }
  await replaceFile(path, bytes, what)
  return path
}

/** `-o FILE`, or undefined for standard output (no `-o`, or `-o -`). */
export function outputPath(args: ParsedArgs): string | undefined {
  const path = stringOption(args, 'output')
  return path === '-' ? undefined : path
}
