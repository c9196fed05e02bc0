/**
 * The whole init-data step of agent start-up, in order: read the source once, check it against a
 * fresh report, hold the checked bytes for serving, and only then write the runtime files.
 * Nothing is written or served when any step refuses.
 *
 * @module
 */
import { UsageError } from '@initguard/core'
import type { GuestTee } from '@initguard/tee'
import type { InitdataSourceKind, UnboundInitdata, VerifiedInitdata } from '../verified-initdata.ts'
import { checkInitdata } from './check-initdata.ts'
import { findInitdataDevice } from './initdata-device.ts'
import { readInitdataSource } from './initdata-source.ts'
import { writeRuntimeFiles, type RuntimeFiles } from './runtime-files.ts'
import { VerifiedDocuments } from './verified-documents.ts'

/** What {@link establishInitdata} needs. */
export interface EstablishInitdataOptions {
  readonly tee: GuestTee
  readonly from: InitdataSourceKind
  /**
   * Where the source is. May be absent only with `from: 'image'`: the initdata block device is
   * then found by its magic ({@link findInitdataDevice}).
   */
  readonly path?: string
  /** The device directory scanned when `path` is absent (refused with a `path`); default `/dev`. */
  readonly devDir?: string
  /**
   * Where to write the documents ({@link writeRuntimeFiles}: the verified layout, or the visibly
   * different unbound one when running unbound); nothing is written when absent.
   */
  readonly runtimeDir?: string
  /** Run unbound when the TEE was launched without init-data (an explicit flag). */
  readonly allowUnbound?: boolean
  readonly signal?: AbortSignal
}

/** The outcome: the check's result, the bytes to serve, and the files written. */
export interface EstablishedInitdata {
  readonly initdata: VerifiedInitdata | UnboundInitdata
  readonly documents: VerifiedDocuments
  readonly files: RuntimeFiles | undefined
}

/**
 * Read, check, hold and write the init-data documents.
 *
 * @throws {@link UsageError} `ERR_AGENT_INITDATA_PATH_MISSING` (no `path`, and `from` is not
 *   `image`), `ERR_OPTION_NOT_APPLICABLE` (`devDir` with a `path`); every error of {@link findInitdataDevice}, {@link readInitdataSource}, {@link checkInitdata}, the
 *   {@link VerifiedDocuments} constructor (`ERR_AGENT_DATA_KEY_UNSAFE`) and
 *   {@link writeRuntimeFiles}.
 */
export async function establishInitdata(
  options: EstablishInitdataOptions,
): Promise<EstablishedInitdata> {
  const input = await readInitdataSource(options.from, await sourcePath(options))
  const initdata = await checkInitdata(options.tee, input, {
    allowUnbound: options.allowUnbound === true,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })
  const documents = new VerifiedDocuments(initdata)
  const files =
    options.runtimeDir === undefined
      ? undefined
      : await writeRuntimeFiles(options.runtimeDir, documents)
  return { initdata, documents, files }
}

async function sourcePath(options: EstablishInitdataOptions): Promise<string> {
  if (options.path !== undefined) {
    if (options.devDir === undefined) return options.path
    throw new UsageError(
      'ERR_OPTION_NOT_APPLICABLE',
      'devDir applies only when the initdata block device is looked for (no path given)',
      { details: { option: 'devDir' }, hint: 'drop devDir, or the path' },
    )
  }
  if (options.from === 'image') {
    return findInitdataDevice(options.devDir === undefined ? {} : { devDir: options.devDir })
  }
  throw new UsageError(
    'ERR_AGENT_INITDATA_PATH_MISSING',
    `an initdata ${options.from === 'file' ? 'document' : 'annotation value'} must be named; only the block device (--from image) is found by itself`,
    { details: { from: options.from }, hint: 'give --initdata PATH' },
  )
}
