/**
 * The verified documents, held in memory for serving: the whole document and each `[data]` value,
 * as the bytes that were checked. Every read returns a fresh copy, so neither a caller nor a later
 * change to the source file or device can alter what is served.
 *
 * @module
 */
import { MalformedInputError, stringToUtf8 } from '@initguard/core'
import { unsafeDataKeyReason } from '@initguard/initdata'
import type { UnboundInitdata, VerifiedInitdata } from '../verified-initdata.ts'

export { INITDATA_DOCUMENT_FILE, isSafeDataKey } from '@initguard/initdata'

/**
 * Refuse the document if any `[data]` key is not one the agent can write and serve
 * (`unsafeDataKeyReason` of `@initguard/initdata`, the rule `initdata build` applies too).
 *
 * @throws {@link MalformedInputError} `ERR_AGENT_DATA_KEY_UNSAFE` naming the key.
 */
export function assertSafeDataKeys(keys: Iterable<string>): void {
  for (const key of keys) {
    const reason = unsafeDataKeyReason(key)
    if (reason === undefined) continue
    throw new MalformedInputError(
      'ERR_AGENT_DATA_KEY_UNSAFE',
      `the initdata [data] key ${JSON.stringify(key)} cannot be a file name in the runtime directory`,
      { details: { key }, hint: reason },
    )
  }
}

/** The checked bytes of a document and its `[data]` values, for serving. */
export class VerifiedDocuments {
  /** False only when the agent runs unbound: then every response must say so. */
  readonly verified: boolean
  /** Why nothing vouches for the documents, when {@link verified} is false. */
  readonly unboundReason: string | undefined
  readonly #document: Uint8Array
  readonly #values: ReadonlyMap<string, Uint8Array>

  /**
   * @throws {@link MalformedInputError} `ERR_AGENT_DATA_KEY_UNSAFE` for a key that is not a safe name.
   */
  constructor(initdata: VerifiedInitdata | UnboundInitdata) {
    assertSafeDataKeys(initdata.document.data.keys())
    const unbound = 'unbound' in initdata
    this.verified = !unbound
    this.unboundReason = unbound ? initdata.reason : undefined
    this.#document = Uint8Array.from(initdata.document.bytes)
    const values = new Map<string, Uint8Array>()
    for (const [key, value] of initdata.document.data) values.set(key, stringToUtf8(value))
    this.#values = values
  }

  /** The whole document, exactly as checked (a copy). */
  document(): Uint8Array {
    return Uint8Array.from(this.#document)
  }

  /** The `[data]` keys, in document order. */
  keys(): string[] {
    return [...this.#values.keys()]
  }

  /** The UTF-8 bytes of `[data].key` (a copy), or `undefined` when the document has no such key. */
  get(key: string): Uint8Array | undefined {
    const value = this.#values.get(key)
    return value === undefined ? undefined : Uint8Array.from(value)
  }
}
