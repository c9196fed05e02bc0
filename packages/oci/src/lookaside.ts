/**
 * Reading simple-signing signatures from a lookaside store (containers-signature(5) "separate
 * storage"), as containers/image's `docker_image_src.go` does: `signature-1`, `signature-2`, …
 * until the first one that does not exist. A `file:` store ends at the first missing file; an
 * `http(s):` store ends at the first HTTP 404, and any other status but 200 is an error.
 *
 * Blobs are returned raw and unverified: they are only bytes someone put in a directory or on a
 * web server until a signature check says otherwise.
 *
 * @module
 */
import { constants, open, type FileHandle } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { LocalIoError, MalformedInputError, UsageError } from '@initguard/core'
import { HttpClient, httpErrors, redactUrl, type HttpClientOptions } from '@initguard/http'
import { lookasideSignatureURL } from './lookaside-location.ts'
import { MAX_IMAGE_SIGNATURES, MAX_SIGNATURE_SIZE } from './signature-limits.ts'

/**
 * Options for {@link readLookasideSignatures}. The HTTP client's `attempts` (429, 5xx and network
 * errors are retried), `backoffMs`, `fetch` and `sleep` apply to http stores.
 */
export interface LookasideReadOptions extends Pick<
  HttpClientOptions,
  'attempts' | 'backoffMs' | 'fetch' | 'sleep'
> {
  /** Largest accepted signature in bytes; default {@link MAX_SIGNATURE_SIZE}. */
  readonly maxSignatureSize?: number
  /** Most signatures read; more is an error; default {@link MAX_IMAGE_SIGNATURES}. */
  readonly maxSignatures?: number
  /** Timeout for each signature over HTTP, all attempts, headers and body together; default 30 s. */
  readonly timeoutMs?: number
}

/**
 * `value` when it is a whole number (0 is a bound too: no signature, or none but empty ones): a
 * bound given as NaN, a negative number, a fraction or Infinity is refused, never read as no bound
 * (NaN compared false and read signatures forever).
 */
function wholeNumber(value: number, name: string): number {
  if (Number.isSafeInteger(value) && value >= 0) return value
  throw new UsageError(
    'ERR_LOOKASIDE_OPTION',
    `${name} must be a whole number (0 or more), not ${String(value)}`,
    { hint: `leave ${name} unset for c/image's default` },
  )
}

/** One signature blob as found in the store. */
export interface LookasideSignature {
  /** Its number, 1-based (`signature-<n>`). */
  readonly n: number
  /** Where it was read, with any password redacted. */
  readonly url: string
  /** The raw blob, unverified. */
  readonly bytes: Uint8Array
}

/**
 * Read every signature of `manifestDigest` from the store at `repositoryBase` (the
 * `repositoryBase` of a {@link LookasideChoice}, i.e. `<lookaside>/<repository path>`).
 *
 * @throws {@link UsageError} `ERR_LOOKASIDE_SCHEME`, `ERR_LOOKASIDE_OPTION` (a bound that is not a
 *   whole number); {@link MalformedInputError}
 *   `ERR_LOOKASIDE_DIGEST`, `ERR_LOOKASIDE_SIGNATURE_TOO_LARGE`, `ERR_LOOKASIDE_TOO_MANY`;
 *   {@link LocalIoError} `ERR_LOOKASIDE_READ`; {@link UnavailableError} `ERR_LOOKASIDE_HTTP_STATUS`,
 *   `ERR_LOOKASIDE_UNAVAILABLE`, `ERR_LOOKASIDE_DEADLINE` (a signature not complete within
 *   `timeoutMs`), `ERR_LOOKASIDE_REDIRECT`.
 */
export async function readLookasideSignatures(
  repositoryBase: URL,
  manifestDigest: string,
  options: LookasideReadOptions = {},
): Promise<LookasideSignature[]> {
  const protocol = repositoryBase.protocol
  if (protocol !== 'file:' && protocol !== 'http:' && protocol !== 'https:') {
    throw new UsageError(
      'ERR_LOOKASIDE_SCHEME',
      `cannot read signatures from ${redactUrl(repositoryBase)}: only file, http and https stores are supported`,
      { hint: 'configure the lookaside store as file:///path or https://host/path' },
    )
  }
  // As registries.d refuses on load; Node's fileURLToPath would throw a bare TypeError for it.
  if (protocol === 'file:' && repositoryBase.host !== '') {
    throw new UsageError(
      'ERR_LOOKASIDE_SCHEME',
      `cannot read signatures from ${redactUrl(repositoryBase)}: a file: store must not name a host`,
      { hint: 'configure the lookaside store as file:///path' },
    )
  }
  const maxSize = wholeNumber(options.maxSignatureSize ?? MAX_SIGNATURE_SIZE, 'maxSignatureSize')
  const maxCount = wholeNumber(options.maxSignatures ?? MAX_IMAGE_SIGNATURES, 'maxSignatures')
  const client = new HttpClient({
    totalTimeoutMs: options.timeoutMs ?? 30_000,
    errors: lookasideErrors,
    ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
    ...(options.backoffMs === undefined ? {} : { backoffMs: options.backoffMs }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
  })
  const signatures: LookasideSignature[] = []
  for (let n = 1; ; n++) {
    const url = lookasideSignatureURL(repositoryBase, manifestDigest, n)
    const bytes =
      protocol === 'file:'
        ? await readFileSignature(url, maxSize)
        : await fetchSignature(client, url, maxSize)
    if (bytes === undefined) return signatures
    if (n > maxCount) {
      // Checked only once signature maxCount + 1 exists, so a store with exactly maxCount works.
      throw new MalformedInputError(
        'ERR_LOOKASIDE_TOO_MANY',
        `the signature store has more than ${maxCount} signatures for ${manifestDigest}`,
        {
          details: { url: redactUrl(url), maxSignatures: maxCount },
          hint: 'remove stale signatures from the store; this many suggests a misconfigured server',
        },
      )
    }
    signatures.push({ n, url: redactUrl(url), bytes })
  }
}

function tooLarge(url: URL, maxSize: number): MalformedInputError {
  return new MalformedInputError(
    'ERR_LOOKASIDE_SIGNATURE_TOO_LARGE',
    `the signature at ${redactUrl(url)} is larger than ${maxSize} bytes`,
    {
      details: { url: redactUrl(url), maxSize },
      hint: 'a simple signature is a few kilobytes; check that the store serves signatures',
    },
  )
}

/** The file's bytes, or undefined when it does not exist (the end of the list). */
async function readFileSignature(url: URL, maxSize: number): Promise<Uint8Array | undefined> {
  const path = fileURLToPath(url)
  let handle: FileHandle
  try {
    // A FIFO must not make the read wait (forever) for a writer: with O_NONBLOCK its open returns
    // at once and the regular-file check below refuses it. Symbolic links are followed, as in c/image.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (error) {
    // Only "no such file" ends the list, as in c/image (os.IsNotExist); anything else is an error.
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined
    throw readError(error, path)
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw readError(undefined, path, 'it is not a regular file')
    if (info.size > maxSize) throw tooLarge(url, maxSize)
    // Read one byte more than allowed so a file that grows after the stat is still caught.
    const buffer = new Uint8Array(maxSize + 1)
    let length = 0
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
      if (length > maxSize) throw tooLarge(url, maxSize)
    }
    return buffer.slice(0, length)
  } catch (error) {
    if (error instanceof MalformedInputError || error instanceof LocalIoError) throw error
    throw readError(error, path)
  } finally {
    await handle.close()
  }
}

function readError(error: unknown, path: string, why?: string): LocalIoError {
  const code = (error as { code?: unknown } | undefined)?.code
  const reason = why ?? (typeof code === 'string' ? code : 'unknown error')
  return new LocalIoError(
    'ERR_LOOKASIDE_READ',
    `cannot read the signature ${JSON.stringify(path)}: ${reason}`,
    {
      cause: error,
      details: { path, reason },
      hint: 'check the permissions of the lookaside directory',
    },
  )
}

/** The lookaside reader's coded errors for the HTTP client's failures. */
const lookasideErrors = httpErrors({
  area: 'LOOKASIDE',
  codes: {
    unreachable: 'ERR_LOOKASIDE_UNAVAILABLE',
    status: 'ERR_LOOKASIDE_HTTP_STATUS',
    'too-large': 'ERR_LOOKASIDE_SIGNATURE_TOO_LARGE',
  },
  hints: {
    unreachable: 'check that the signature server is reachable, or use a file:// store',
    network: 'check that the signature server is reachable, or use a file:// store',
    deadline:
      'the signature server or the network is too slow, or sends its answer a little at a time (each signature may take timeoutMs, 30 s by default); try again, or use a file:// store',
    status:
      'check the lookaside URL in registries.d and the server; 200 is a signature, 404 marks the end of the list',
  },
})

/** The body of a 200 response, or undefined for a 404 (the end of the list). */
async function fetchSignature(
  client: HttpClient,
  url: URL,
  maxSize: number,
): Promise<Uint8Array | undefined> {
  // User info in the store's URL is sent as basic authentication, as Go's http.Client does.
  return client.request(
    { url, what: `read the signature at ${redactUrl(url)}` },
    async (response) => {
      if (response.status === 404) {
        await response.discard()
        return undefined
      }
      if (response.status !== 200) {
        await response.discard()
        throw response.statusFailure()
      }
      return response.bytes({ maxBytes: maxSize, tooLarge: () => tooLarge(url, maxSize) })
    },
  )
}
