/**
 * A response as the HTTP client hands it over: status, headers and the final URL, and a body that
 * can only be read with a size limit (the declared `Content-Length` checked before reading, the
 * count checked as it flows) while every chunk restarts the attempt's stall timer.
 *
 * @module
 */
import type { InitguardError } from '@initguard/core'

/** How much of a body may be read. */
export interface BodyLimit {
  /** Most bytes accepted. */
  readonly maxBytes: number
  /** The error for a body over the limit; default the request's `too-large` error. */
  readonly tooLarge?: () => InitguardError
}

/** What a response needs from the request it answers. */
export interface ResponseContext {
  /** The final URL, after redirects. */
  readonly url: URL
  /** Restart the attempt's stall timer (called per chunk). */
  readonly touch: () => void
  /** The request's error for a body over `maxBytes`. */
  readonly tooLarge: (maxBytes: number) => InitguardError
  /** The request's `status` error for this response (a status the caller does not accept). */
  readonly statusFailure: (status: number) => InitguardError
}

function checkLimit(limit: BodyLimit): void {
  if (!Number.isSafeInteger(limit.maxBytes) || limit.maxBytes < 0)
    throw new RangeError(`a body limit must be a non-negative integer, not ${limit.maxBytes}`)
}

/** A response whose body is read only within a limit. */
export class HttpResponse {
  readonly #response: Response
  readonly #context: ResponseContext
  #used = false

  constructor(response: Response, context: ResponseContext) {
    this.#response = response
    this.#context = context
  }

  get status(): number {
    return this.#response.status
  }

  /** Whether the status is 2xx. */
  get ok(): boolean {
    return this.#response.ok
  }

  get headers(): Headers {
    return this.#response.headers
  }

  /** Where the response came from, after redirects. */
  get url(): URL {
    return this.#context.url
  }

  /** The caller's coded `status` error for this response, to throw when the status is not acceptable. */
  statusFailure(): InitguardError {
    return this.#context.statusFailure(this.status)
  }

  /**
   * The body's chunks, refusing (before reading) a `Content-Length` over the limit and (before
   * handing it over) any chunk that would pass it. Stopping early cancels the body, which closes
   * the connection instead of draining what nobody wants.
   */
  async *chunks(limit: BodyLimit): AsyncGenerator<Uint8Array> {
    checkLimit(limit)
    const tooLarge = limit.tooLarge ?? (() => this.#context.tooLarge(limit.maxBytes))
    const body = this.#take()
    const declared = this.headers.get('content-length')
    if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > limit.maxBytes) {
      await body?.cancel().catch(() => undefined)
      throw tooLarge()
    }
    if (body === null) return
    const reader = body.getReader()
    let finished = false
    let size = 0
    try {
      for (;;) {
        const result = await reader.read()
        if (result.done) {
          finished = true
          return
        }
        this.#context.touch()
        size += result.value.length
        if (size > limit.maxBytes) throw tooLarge()
        yield result.value
      }
    } finally {
      if (!finished) await reader.cancel().catch(() => undefined)
      reader.releaseLock()
    }
  }

  /** The whole body, within the limit. */
  async bytes(limit: BodyLimit): Promise<Uint8Array> {
    const parts: Uint8Array[] = []
    let size = 0
    for await (const chunk of this.chunks(limit)) {
      parts.push(chunk)
      size += chunk.length
    }
    // Copied out of Buffer's shared pool: the caller owns the bytes.
    return new Uint8Array(Buffer.concat(parts, size))
  }

  /** The whole body as UTF-8 text, within the limit. */
  async text(limit: BodyLimit): Promise<string> {
    return new TextDecoder().decode(await this.bytes(limit))
  }

  /**
   * At most `maxBytes` of the body, the rest cancelled: for error bodies, which are only looked
   * at, never required whole. `complete` says whether it all fit.
   */
  async peek(
    maxBytes: number,
  ): Promise<{ readonly bytes: Uint8Array; readonly complete: boolean }> {
    checkLimit({ maxBytes })
    const parts: Uint8Array[] = []
    let size = 0
    let complete = true
    for await (const chunk of this.chunks({ maxBytes: Number.MAX_SAFE_INTEGER })) {
      const room = maxBytes - size
      parts.push(chunk.subarray(0, room))
      size += Math.min(room, chunk.length)
      if (chunk.length > room) {
        // Leaving the loop cancels the rest of the body.
        complete = false
        break
      }
    }
    return { bytes: new Uint8Array(Buffer.concat(parts)), complete }
  }

  /** Throw the body away unread (cancelling it closes the connection). */
  async discard(): Promise<void> {
    if (this.#used) return
    await this.#take()
      ?.cancel()
      .catch(() => undefined)
  }

  #take(): ReadableStream<Uint8Array> | null {
    if (this.#used) throw new Error('the response body was already read')
    this.#used = true
    return this.#response.body as ReadableStream<Uint8Array> | null
  }
}
