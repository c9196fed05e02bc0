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

type JsonRecord = Readonly<Record<string, unknown>>

/**
 * One simulator JSON file being read: every check refuses with the file's own code and hint,
 * naming its path and the field (`''` for the whole file).
 */
export class SimulatorJsonReader {
  readonly #file: SimulatorJsonFile
  readonly #path: string

  constructor(file: SimulatorJsonFile, path: string) {
    this.#file = file
    this.#path = path
  }

  /** The error for a wrong key or value of `field`. */
  invalid(field: string, message: string): LocalIoError {
    const path = this.#path
    return new LocalIoError(
      this.#file.invalidCode,
      `${path}: ${field === '' ? '' : `${field}: `}${message}`,
      { details: { path, field }, hint: this.#file.invalidHint },
    )
  }

  /**
   * The file's top-level object: the bytes as UTF-8 JSON, an object with exactly `keys`, its
   * `format` and `version` the file's.
   *
   * @throws {@link LocalIoError} `file.invalidCode`; `file.versionCode` for another version.
   */
  top(bytes: Uint8Array, keys: readonly string[]): JsonRecord {
    const file = this.#file
    const path = this.#path
    let json: unknown
    try {
      json = JSON.parse(utf8ToString(bytes, { field: path }))
    } catch (cause) {
      throw new LocalIoError(file.invalidCode, `${path} is not JSON`, {
        cause,
        details: { path },
        hint: file.damagedHint,
      })
    }
    const top = this.object(json, keys, '')
    if (top['format'] !== file.format) throw this.invalid('format', `must be "${file.format}"`)
    if (top['version'] !== file.version) {
      const version = JSON.stringify(top['version'])
      throw new LocalIoError(
        file.versionCode,
        `${path}: ${file.what} version ${version} is not the one this initguard reads (${file.version})`,
        { details: { path, version: version.slice(0, 40) }, hint: file.versionHint },
      )
    }
    return top
  }

  /** `value` as an object with exactly `keys`: none unknown, none missing. */
  object(value: unknown, keys: readonly string[], field: string): JsonRecord {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw this.invalid(field, 'must be a JSON object')
    }
    const given = Object.keys(value)
    const unknown = given.filter((k) => !keys.includes(k))
    const missing = keys.filter((k) => !given.includes(k))
    if (unknown.length > 0) throw this.invalid(field, `unknown keys: ${unknown.join(', ')}`)
    if (missing.length > 0) throw this.invalid(field, `missing keys: ${missing.join(', ')}`)
    return value as JsonRecord
  }

  /** `value` as exactly `bytes` bytes of lower-case hex. */
  hex(value: unknown, bytes: number, field: string): string {
    if (typeof value !== 'string' || !new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(value)) {
      throw this.invalid(field, `must be ${bytes * 2} lower-case hex digits`)
    }
    return value
  }

  /** `value` as an ISO 8601 UTC time in whole seconds, as the simulator writes times. */
  time(value: unknown, field: string): string {
    if (
      typeof value !== 'string' ||
      !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(value) ||
      Number.isNaN(Date.parse(value))
    ) {
      throw this.invalid(field, 'must be an ISO 8601 UTC time in whole seconds')
    }
    return value
  }
}
