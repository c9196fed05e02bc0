/**
 * The JSON files the simulator writes for itself (`simulator.json`, the guest records): one way
 * to read them and to refuse them, as a {@link LocalIoError} (exit 7: the file is unusable) with
 * the file's own codes and hints.
 *
 * @module
 */
import { LocalIoError, utf8ToString } from '@initguard/core'

/** What a kind of simulator JSON file is, for reading it and for its errors. */
export interface SimulatorJsonFile {
  /** What it is called in the version message, e.g. `'guest record'`. */
  readonly what: string
  /** The value its `format` key must hold. */
  readonly format: string
  /** The value its `version` key must hold: the one this code reads. */
  readonly version: number
  /** The code for a file that is not JSON or has a wrong key or value. */
  readonly invalidCode: `ERR_SIM_${string}`
  /** The code for a file of another version. */
  readonly versionCode: `ERR_SIM_${string}`
  /** The hint for a file that is not JSON. */
  readonly damagedHint: string
  /** The hint for a wrong key or value. */
  readonly invalidHint: string
  /** The hint for a file of another version. */
  readonly versionHint: string
}

/** The error for a wrong key or value of `field` (`''` for the whole file). */
export function simulatorJsonInvalid(
  file: SimulatorJsonFile,
  path: string,
  field: string,
  message: string,
): LocalIoError {
  return new LocalIoError(
    file.invalidCode,
    `${path}: ${field === '' ? '' : `${field}: `}${message}`,
    { details: { path, field }, hint: file.invalidHint },
  )
}

/**
 * The JSON value of a file's bytes.
 *
 * @throws {@link LocalIoError} `file.invalidCode` when the bytes are not UTF-8 JSON.
 */
export function parseSimulatorJson(
  bytes: Uint8Array,
  path: string,
  file: SimulatorJsonFile,
): unknown {
  try {
    return JSON.parse(utf8ToString(bytes, { field: path }))
  } catch (cause) {
    throw new LocalIoError(file.invalidCode, `${path} is not JSON`, {
      cause,
      details: { path },
      hint: file.damagedHint,
    })
  }
}

/**
 * Check the `format` and `version` keys of a file's top-level object.
 *
 * @throws {@link LocalIoError} `file.invalidCode` for another format, `file.versionCode` for
 *   another version.
 */
export function checkSimulatorJsonHeader(
  top: Readonly<Record<string, unknown>>,
  path: string,
  file: SimulatorJsonFile,
): void {
  if (top['format'] !== file.format) {
    throw simulatorJsonInvalid(file, path, 'format', `must be "${file.format}"`)
  }
  if (top['version'] !== file.version) {
    const version = JSON.stringify(top['version'])
    throw new LocalIoError(
      file.versionCode,
      `${path}: ${file.what} version ${version} is not the one this initguard reads (${file.version})`,
      { details: { path, version: version.slice(0, 40) }, hint: file.versionHint },
    )
  }
}

/**
 * `value` as an object with exactly `keys`: none unknown, none missing.
 *
 * @throws {@link LocalIoError} `file.invalidCode` naming `field` (`''` for the whole file).
 */
export function simulatorJsonObject(
  file: SimulatorJsonFile,
  value: unknown,
  keys: readonly string[],
  path: string,
  field: string,
): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw simulatorJsonInvalid(file, path, field, 'must be a JSON object')
  }
  const given = Object.keys(value)
  const unknown = given.filter((k) => !keys.includes(k))
  const missing = keys.filter((k) => !given.includes(k))
  if (unknown.length > 0) {
    throw simulatorJsonInvalid(file, path, field, `unknown keys: ${unknown.join(', ')}`)
  }
  if (missing.length > 0) {
    throw simulatorJsonInvalid(file, path, field, `missing keys: ${missing.join(', ')}`)
  }
  return value as Readonly<Record<string, unknown>>
}

/**
 * `value` as exactly `bytes` bytes of lower-case hex.
 *
 * @throws {@link LocalIoError} `file.invalidCode` naming `field`.
 */
export function simulatorJsonHex(
  file: SimulatorJsonFile,
  value: unknown,
  bytes: number,
  path: string,
  field: string,
): string {
  if (typeof value !== 'string' || !new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(value)) {
    throw simulatorJsonInvalid(file, path, field, `must be ${bytes * 2} lower-case hex digits`)
  }
  return value
}
