/**
 * Downloads of attestation collateral (AMD KDS, Intel PCS or a PCCS): an on-disk cache and an
 * offline mode that never touches the network, in front of the one HTTP client (timeouts, a size
 * limit, retries with backoff that honour `Retry-After`: KDS and PCS both throttle).
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { mkdir, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { LruCache, UnavailableError, isInitguardError } from '@initguard/core'
import { writeFileAtomic } from '@initguard/files'
import { HttpClient, httpErrors, redactUrl } from '@initguard/http'
import {
  MAX_COLLATERAL_SIZE,
  cacheError,
  checkCacheBound,
  readCached,
  type CacheBound,
} from './cache-directory.ts'
import { CacheDirectoryIndex } from './cache-index.ts'
import { DownloadAdmission, busyError } from './download-admission.ts'
import { checkDownloadLimits, type DownloadLimits } from './download-limits.ts'
import { NotFoundMemory } from './not-found-memory.ts'

/**
 * Network and cache settings shared by the collateral clients, with the bounds on downloads
 * ({@link DownloadLimits}: how many at once, how many waiting, how long a 404 is remembered).
 */
export interface DownloadOptions extends DownloadLimits {
  /** Directory for downloaded collateral; none means no on-disk cache. */
  readonly cacheDir?: string
  /** How much each service's part of `cacheDir` keeps (least recently used evicted); defaults in {@link CacheBound}. */
  readonly cacheBound?: CacheBound
  /** Never touch the network: only the cache (and a client's offline store). */
  readonly offline?: boolean
  /** Per attempt: the longest wait for the headers and the longest stall in the body; default 10 s. */
  readonly timeoutMs?: number
  /**
   * The whole download: every attempt, backoff wait and the body; default 60 s. Without it a
   * server that sends a byte just inside each stall timeout would hold a download, its network
   * slot and every guest waiting on it for ever. Past it: `ERR_<area>_DEADLINE`.
   */
  readonly totalTimeoutMs?: number
  /** Attempts per download, including the first; default 4. */
  readonly attempts?: number
  /** First backoff delay; doubles on each retry; default 1 s. */
  readonly backoffMs?: number
  /** The fetch implementation, for tests; default the HTTP client's, which verifies every certificate. */
  readonly fetch?: typeof fetch
  /** How to wait between attempts; default a timer. */
  readonly sleep?: (ms: number) => Promise<void>
  /** The time now, for cache ages and remembered 404s; default the system clock. */
  readonly clock?: () => Date
}

/** A downloaded body and the response headers a caller asked to keep. */
export interface Downloaded {
  readonly body: Uint8Array
  readonly headers: Readonly<Record<string, string>>
}

/** One download request. */
export interface DownloadRequest {
  readonly url: string
  /** Cache key: the same key is the same content, whichever mirror served it. */
  readonly cacheKey: string
  /** What is downloaded, for messages ("VCEK", "TDX TCB info"). */
  readonly what: string
  /** Response headers to keep (lower case). */
  readonly keepHeaders?: readonly string[]
  /**
   * Whether a cached copy of this age (ms) may be used online at `now` (the downloader's clock);
   * default always. A copy downloaded more than a minute after `now` (the clock was stepped back)
   * is not asked about: it is stale.
   */
  readonly fresh?: (cached: Downloaded, ageMs: number, now: Date) => boolean
  /**
   * Checks a download before it is cached or returned: a response it throws for (a coded error) is
   * neither, so a damaged answer fails this request and is fetched again by the next, rather than
   * answering from the cache until it goes stale. A cached entry it throws for is a miss.
   */
  readonly check?: (downloaded: Downloaded) => unknown
  /**
   * Whether `downloaded` is an earlier issue of the document than the `cached` copy it would
   * replace (a CRL with an earlier thisUpdate, a TCB info of a lower tcbEvaluationDataNumber); both
   * have passed `check`. Such a download replaces nothing: the cached copy is answered instead
   * (whether it is still current is the verifier's to judge), so whoever answers for the service
   * cannot roll the cache back to an issue from before a revocation or a TCB recovery. The newest
   * issue the downloader answered is remembered too (see {@link CachedDownloader}), so neither an
   * emptied cache directory nor running without one lets it answer an earlier issue later.
   */
  readonly older?: (downloaded: Downloaded, cached: Downloaded) => boolean
  /** Hint for an HTTP 404. */
  readonly notFoundHint?: string
  /** How to do without this download ("give the VCEK with --certs FILE"), for every hint. */
  readonly insteadHint?: string
}

export { MAX_COLLATERAL_SIZE }

/** How many cache entries a downloader remembers as checked (their content digests). */
const CHECKED_MEMORY = 4096

/**
 * How many documents with an order (CRLs, TCB infos, QE identities) a downloader remembers the
 * newest answered issue of: AMD has six CRLs, Intel one TCB info per FMSPC in use and a handful
 * of others. Beyond it the least recently used document falls back to the cache as its floor.
 */
const NEWEST_MEMORY = 1024

/**
 * How far after `now` an entry's download time may lie and its age still be judged. An entry is
 * dated by its file's mtime, the clock when it was written; one dated later means this clock was
 * stepped back since (or is being set back), and its age, negative or small, would stretch the
 * request's bound (12 h for Intel and AMD documents) by the size of the step. Beyond this it is
 * stale. A minute covers what is not a step: the time between reading the clock and reading the
 * entry (an event loop or a thread pool held up under load), and an entry written a moment later
 * by another process, on a shared volume possibly by another host whose clock is synchronised to
 * this one (KBS replicas are within 10 s); a step back within it stretches the bound by at most a
 * minute.
 */
const DOWNLOADED_AHEAD_TOLERANCE_MS = 60_000

/**
 * Whether a cached entry may be answered online: always for a request without a freshness rule
 * (its content does not change), else by the rule, and never once downloaded more than
 * {@link DOWNLOADED_AHEAD_TOLERANCE_MS} after `now`.
 */
function answerableOnline(
  request: DownloadRequest,
  cached: { readonly entry: Downloaded; readonly ageMs: number },
  now: Date,
): boolean {
  if (request.fresh === undefined) return true
  return (
    cached.ageMs >= -DOWNLOADED_AHEAD_TOLERANCE_MS && request.fresh(cached.entry, cached.ageMs, now)
  )
}

/** The digest of an entry's content (kept headers and body): what a passed check is remembered by. */
function contentDigest(name: string, entry: Downloaded): string {
  return createHash('sha256')
    .update(name)
    .update('\0')
    .update(JSON.stringify(Object.entries(entry.headers).sort()))
    .update('\0')
    .update(entry.body)
    .digest('hex')
}

/**
 * Downloads through a cache for one service (its name and error-code area).
 *
 * A document with an order (`request.older`: a CRL, a TCB info) never goes back within the
 * downloader's lifetime: the newest issue it answered is kept in memory, and a download or a cache
 * entry of an earlier issue is not answered (the remembered one is). Without it the floor was the
 * cache directory only, so a process without one, or whose directory was emptied (evicted, wiped,
 * a fresh volume), took any earlier issue still inside its validity window, one from before a
 * revocation or a TCB recovery, from whoever answered for the service. The limit left: a new
 * downloader (a process just started, with no cache) has no floor but what the cache holds. The
 * KBS builds one client per service at start and the CLI one per command, so in practice the floor
 * lasts the process.
 */
export class CachedDownloader {
  readonly #options: DownloadOptions
  readonly #service: string
  readonly #area: string
  readonly #client: HttpClient
  /** This service's cache directory and what it holds; none without a `cacheDir`. */
  readonly #cache: { readonly directory: string; readonly index: CacheDirectoryIndex } | undefined
  /**
   * The downloads under way, by entry name: a caller asking for one already on its way waits for
   * it instead of sending its own. A cold KBS hit by many guests of one new chip would otherwise
   * ask AMD KDS for the same VCEK once per guest, and KDS throttles hard.
   */
  readonly #inFlight = new Map<string, Promise<Downloaded>>()
  /** The network slots: downloads at once and waiting (cache hits and joins take none). */
  readonly #admission: DownloadAdmission
  /** HTTP 404s remembered by entry name, so an invented name is not asked for again and again. */
  readonly #notFound: NotFoundMemory
  /**
   * Entries (by {@link contentDigest}) that passed their request's check in this process: a
   * cache hit of the same bytes is not checked again. The checks verify signatures (a VCEK's chain
   * costs three RSA verifications), and a KBS reads the same VCEK on every /attest of its chip.
   */
  readonly #checked = new LruCache<string, true>(CHECKED_MEMORY)
  /** The newest issue answered of each document with an order, by entry name (the class comment). */
  readonly #newest = new LruCache<string, Downloaded>(NEWEST_MEMORY)
  readonly #clock: () => Date

  /**
   * @param service - the service's name for messages ("AMD KDS", "Intel PCS").
   * @param area - the error-code area: `KDS` gives `ERR_KDS_UNAVAILABLE`, `ERR_KDS_NOT_FOUND`, `ERR_KDS_OFFLINE`.
   * @throws {@link UsageError} `ERR_CACHE_BOUND` for a malformed `options.cacheBound`;
   *   `ERR_DOWNLOAD_LIMITS` for a malformed `maxConcurrentDownloads`, `maxQueuedDownloads` or
   *   `notFoundTtlMs`.
   */
  constructor(service: string, area: string, options: DownloadOptions) {
    const bound = checkCacheBound(options.cacheBound)
    const limits = checkDownloadLimits(options)
    const timeoutMs = options.timeoutMs ?? 10_000
    const directory =
      options.cacheDir === undefined ? undefined : join(options.cacheDir, area.toLowerCase())
    this.#cache =
      directory === undefined
        ? undefined
        : { directory, index: new CacheDirectoryIndex(directory, bound) }
    this.#service = service
    this.#area = area
    this.#options = options
    this.#clock = options.clock ?? ((): Date => new Date())
    this.#notFound = new NotFoundMemory(limits.notFoundTtlMs)
    // A waiter gives up after one attempt's timeout: by then the guest's request has waited as
    // long as a whole attempt would, and a retry later is better than a request held open.
    const bounds = { ...limits, maxWaitMs: timeoutMs }
    this.#admission = new DownloadAdmission(bounds, (why) => busyError(service, area, why, bounds))
    this.#client = new HttpClient({
      timeoutMs,
      totalTimeoutMs: options.totalTimeoutMs ?? 60_000,
      attempts: options.attempts ?? 4,
      backoffMs: options.backoffMs ?? 1000,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
    })
  }

  /**
   * Whether a cached `entry` passes the request's check (remembered once it did); a bug in the
   * check (no coded error) is thrown.
   */
  #passes(request: DownloadRequest, name: string, entry: Downloaded): boolean {
    if (request.check === undefined) return true
    const digest = contentDigest(name, entry)
    if (this.#checked.get(digest) === true) return true
    try {
      request.check(entry)
    } catch (error) {
      if (isInitguardError(error)) return false
      throw error
    }
    this.#checked.set(digest, true)
    return true
  }

  /**
   * Answer `entry` for `request`, remembering it as the document's newest issue unless an issue
   * answered before is newer (then that one was answered already, and `entry` is not older).
   */
  #answer(request: DownloadRequest, name: string, entry: Downloaded): Downloaded {
    const older = request.older
    if (older === undefined) return entry
    const floor = this.#newest.get(name)
    if (floor === undefined || !older(entry, floor)) this.#newest.set(name, entry)
    return entry
  }

  /** True when the client must not use the network. */
  get offline(): boolean {
    return this.#options.offline === true
  }

  /**
   * The content at `request.url`: from the cache when present and fresh (always when offline),
   * else downloaded and cached (then the least recently used entries beyond the bound are evicted).
   * Concurrent calls for one entry share one download (and its failure). A download takes one of
   * the network slots, or waits for one in turn; an HTTP 404 is remembered for `notFoundTtlMs`,
   * and the same entry asked again meanwhile fails at once without a request.
   *
   * @throws {@link UnavailableError} `ERR_<area>_BUSY` (every slot taken and the queue full, or
   *   no slot within `timeoutMs`), `ERR_<area>_OFFLINE`, `ERR_<area>_NOT_FOUND`,
   *   `ERR_<area>_UNAVAILABLE` (a 429 or 5xx, or the network, after the retries),
   *   `ERR_<area>_DEADLINE` (no complete answer within `totalTimeoutMs`; not the same as a 503),
   *   `ERR_<area>_UNREACHABLE`, `ERR_<area>_REDIRECT`;
   *   {@link MalformedInputError} `ERR_<area>_TOO_LARGE` (over {@link MAX_COLLATERAL_SIZE}).
   */
  async get(request: DownloadRequest): Promise<Downloaded> {
    const cache = this.#cache
    const name = createHash('sha256').update(request.cacheKey).digest('hex')
    const file = cache === undefined ? undefined : join(cache.directory, name)
    const now = this.#clock()
    const read = file === undefined ? undefined : await readCached(file, now)
    // An entry the check refuses (kept before answers were checked) is damaged: a miss, fetched
    // again online, rather than the same failure from the cache for as long as it stays fresh.
    const checked = read !== undefined && this.#passes(request, name, read.entry) ? read : undefined
    // The newest issue answered before: a cache entry older than it (the directory emptied, or an
    // earlier copy put there since) is not answered, and nothing older than it replaces it.
    const floor = request.older === undefined ? undefined : this.#newest.get(name)
    const cached =
      checked !== undefined && floor !== undefined && request.older?.(checked.entry, floor) === true
        ? undefined
        : checked
    if (cached !== undefined && (this.offline || answerableOnline(request, cached, now))) {
      cache?.index.used(name, now)
      return this.#answer(request, name, cached.entry)
    }
    if (this.offline && floor !== undefined) return floor
    if (this.offline) {
      throw new UnavailableError(
        `ERR_${this.#area}_OFFLINE`,
        `the ${request.what} is not in the cache, and --offline forbids fetching it`,
        {
          details: { url: redactUrl(request.url) },
          hint: `${request.insteadHint ?? 'give it as a file'}; or fetch it once online (it is then cached) without --offline`,
        },
      )
    }
    const remembered = this.#notFound.recall(name, now)
    if (remembered !== undefined) throw remembered
    const underWay = this.#inFlight.get(name)
    if (underWay !== undefined) return underWay
    const download = this.#downloadAndStore(request, name, file, cached?.entry ?? floor).finally(
      () => {
        this.#inFlight.delete(name)
      },
    )
    this.#inFlight.set(name, download)
    return download
  }

  /**
   * Download `request` and, with a cache, store it as entry `name` in `file`, unless it is
   * `older` than the `previous` copy (the cached one, or the newest issue answered before), which
   * is then answered.
   */
  async #downloadAndStore(
    request: DownloadRequest,
    name: string,
    file: string | undefined,
    previous: Downloaded | undefined,
  ): Promise<Downloaded> {
    const cache = this.#cache
    let downloaded: Downloaded
    try {
      downloaded = await this.#admission.run(() => this.#fetchWithRetries(request))
    } catch (error) {
      if (isInitguardError(error) && error.code === `ERR_${this.#area}_NOT_FOUND`)
        this.#notFound.remember(name, error, this.#clock())
      throw error
    }
    request.check?.(downloaded)
    if (request.check !== undefined) this.#checked.set(contentDigest(name, downloaded), true)
    if (previous !== undefined && request.older?.(downloaded, previous) === true)
      return this.#answer(request, name, previous)
    if (cache !== undefined && file !== undefined) {
      const { directory, index } = cache
      try {
        await mkdir(directory, { recursive: true })
      } catch (error) {
        throw cacheError(error, directory, 'directory')
      }
      const envelope = {
        headers: downloaded.headers,
        body: Buffer.from(downloaded.body).toString('base64'),
      }
      await writeFileAtomic(file, new TextEncoder().encode(JSON.stringify(envelope)), {
        what: `cached ${request.what}`,
        // The entry's name is ours, in our cache: whatever is there in its place (a FIFO, a
        // socket) was a miss, and the entry replaces it.
        replaceSpecialFiles: true,
      })
      // Dated by the clock its age is judged by (the file system's own stamp may be another
      // clock: a test's, or a network file system's server). A stamp that fails leaves the file
      // system's, which is this host's clock.
      const written = this.#clock()
      await utimes(file, written, written).catch(() => undefined)
      index.written(name)
      await index.enforce(this.#clock())
    }
    return this.#answer(request, name, downloaded)
  }

  async #fetchWithRetries(request: DownloadRequest): Promise<Downloaded> {
    const { url, what } = request
    const instead = request.insteadHint ?? 'give it as a file'
    const errors = httpErrors({
      area: this.#area,
      codes: { status: `ERR_${this.#area}_UNAVAILABLE` },
      hints: {
        unreachable: `check the network (or the URL); without a network, ${instead}`,
        network: `check the network; or ${request.insteadHint ?? 'work offline from the cache'}`,
        deadline: `${this.#service} or the network is too slow, or sends its answer a little at a time (the download's total timeout is totalTimeoutMs, 60 s by default): try again later; or ${request.insteadHint ?? 'work offline from the cache'}`,
        status: `${this.#service} may be throttling or failing: try again later; or ${request.insteadHint ?? 'work offline from the cache'}`,
      },
    })
    return this.#client.request(
      { url, what: `download the ${what} from ${this.#service}`, errors },
      async (response) => {
        if (response.status === 404) {
          await response.discard()
          throw new UnavailableError(
            `ERR_${this.#area}_NOT_FOUND`,
            `${this.#service} has no ${what} at ${redactUrl(url)} (HTTP 404)`,
            {
              details: { url: redactUrl(url), status: 404 },
              ...(request.notFoundHint === undefined ? {} : { hint: request.notFoundHint }),
            },
          )
        }
        if (!response.ok) {
          await response.discard()
          throw response.statusFailure()
        }
        const headers: Record<string, string> = {}
        for (const name of request.keepHeaders ?? []) {
          const value = response.headers.get(name)
          if (value !== null) headers[name] = value
        }
        return { body: await response.bytes({ maxBytes: MAX_COLLATERAL_SIZE }), headers }
      },
    )
  }
}
