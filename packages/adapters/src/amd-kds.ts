/**
 * AMD's Key Distribution Service (KDS): VCEK certificates, CA chains and CRLs, with an offline
 * store, an on-disk cache, timeouts and backoff. KDS throttles hard (HTTP 429), so every download is
 * cached and retried with exponential backoff that honours `Retry-After`.
 *
 * Endpoints (relative to `https://kdsintf.amd.com`):
 *
 * | what        | path                                                                              |
 * | ----------- | --------------------------------------------------------------------------------- |
 * | VCEK        | `/vcek/v1/{Milan,Genoa}/{hex CHIP_ID, 64 B}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=`      |
 * | VCEK, Turin | `/vcek/v1/Turin/{hex of the first 8 B of CHIP_ID}?fmcSPL=&blSPL=&teeSPL=&snpSPL=&ucodeSPL=` |
 * | CA chain    | `/vcek/v1/{product}/cert_chain`, `/vlek/v1/{product}/cert_chain` (PEM: ASK/ASVK, ARK) |
 * | CRL         | `/vcek/v1/{product}/crl`, `/vlek/v1/{product}/crl`                                 |
 *
 * Offline store layout (`--offline` reads only this and the cache):
 * `{store}/{product}/{hwid hex}/{tcb}.der`, where `{tcb}` is `bl02_tee00_snp06_ucode21` (Turin:
 * `fmc01_bl02_…`), falling back to `{store}/{product}/{hwid hex}/vcek.der`.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { UnavailableError, bytesToHex } from '@initguard/core'
import { writeFileAtomic } from './local-files.ts'

/** The default KDS base URL. */
export const AMD_KDS_URL = 'https://kdsintf.amd.com'

/** A product line KDS serves. */
export type KdsProduct = 'Milan' | 'Genoa' | 'Turin'

/** The TCB components a VCEK is issued for. */
export interface KdsTcb {
  readonly fmc?: number
  readonly bootloader: number
  readonly tee: number
  readonly snp: number
  readonly microcode: number
}

/** Options for {@link AmdKdsClient}. */
export interface AmdKdsOptions {
  /** Default {@link AMD_KDS_URL}. */
  readonly baseUrl?: string
  /** Directory for downloaded certificates; none means no on-disk cache. */
  readonly cacheDir?: string
  /** Directory laid out as described in the module documentation. */
  readonly offlineStore?: string
  /** Never touch the network: only the offline store and the cache. */
  readonly offline?: boolean
  /** Per-request timeout; default 10 s. */
  readonly timeoutMs?: number
  /** Attempts per download, including the first; default 4. */
  readonly attempts?: number
  /** First backoff delay; doubles on each retry; default 1 s. */
  readonly backoffMs?: number
  /** The fetch implementation; default the global one. */
  readonly fetch?: typeof fetch
  /** How to wait between attempts; default a timer. Tests pass a recorder. */
  readonly sleep?: (ms: number) => Promise<void>
}

const CRL_MAX_AGE_MS = 12 * 60 * 60 * 1000

const sleepTimer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function tcbName(product: KdsProduct, tcb: KdsTcb): string {
  const two = (n: number): string => n.toString().padStart(2, '0')
  const parts = [
    `bl${two(tcb.bootloader)}`,
    `tee${two(tcb.tee)}`,
    `snp${two(tcb.snp)}`,
    `ucode${two(tcb.microcode)}`,
  ]
  return product === 'Turin' ? [`fmc${two(tcb.fmc ?? 0)}`, ...parts].join('_') : parts.join('_')
}

/** The hwID KDS names a chip by: the whole 64-byte CHIP_ID, or its first 8 bytes on Turin. */
export function kdsHardwareId(product: KdsProduct, chipId: Uint8Array): string {
  return bytesToHex(product === 'Turin' ? chipId.subarray(0, 8) : chipId)
}

/** The KDS path of a VCEK. */
export function vcekPath(product: KdsProduct, chipId: Uint8Array, tcb: KdsTcb): string {
  const query = [
    ...(product === 'Turin' ? [`fmcSPL=${tcb.fmc ?? 0}`] : []),
    `blSPL=${tcb.bootloader}`,
    `teeSPL=${tcb.tee}`,
    `snpSPL=${tcb.snp}`,
    `ucodeSPL=${tcb.microcode}`,
  ].join('&')
  return `/vcek/v1/${product}/${kdsHardwareId(product, chipId)}?${query}`
}

/** A client for AMD KDS with the offline store and cache in front of it. */
export class AmdKdsClient {
  readonly #options: AmdKdsOptions
  readonly #baseUrl: string

  constructor(options: AmdKdsOptions = {}) {
    this.#options = options
    this.#baseUrl = (options.baseUrl ?? AMD_KDS_URL).replace(/\/+$/, '')
  }

  /**
   * The VCEK (DER) for a chip at a TCB.
   *
   * @throws {@link UnavailableError} `ERR_KDS_UNAVAILABLE`, `ERR_KDS_NOT_FOUND`, `ERR_KDS_OFFLINE`.
   */
  async vcek(product: KdsProduct, chipId: Uint8Array, tcb: KdsTcb): Promise<Uint8Array> {
    if (chipId.every((b) => b === 0)) {
      throw new UnavailableError(
        'ERR_KDS_CHIP_ID_MASKED',
        "the report's CHIP_ID is masked (all zero), so KDS cannot name the VCEK",
        {
          hint: 'give the VCEK with --certs, or use reports from a guest without MASK_CHIP_ID',
        },
      )
    }
    const store = this.#options.offlineStore
    if (store !== undefined) {
      const folder = join(store, product, kdsHardwareId(product, chipId))
      for (const name of [`${tcbName(product, tcb)}.der`, 'vcek.der']) {
        const bytes = await readIfExists(join(folder, name))
        if (bytes !== undefined) return bytes
      }
    }
    return this.#download(vcekPath(product, chipId, tcb), 'VCEK')
  }

  /** The CA chain (PEM: ASK or ASVK, then ARK) of a product line. */
  async certChain(product: KdsProduct, kind: 'vcek' | 'vlek'): Promise<string> {
    return new TextDecoder().decode(
      await this.#download(
        `/${kind}/v1/${product}/cert_chain`,
        `${product} ${kind.toUpperCase()} CA chain`,
      ),
    )
  }

  /** The CRL (DER) of a product line. */
  async crl(product: KdsProduct, kind: 'vcek' | 'vlek'): Promise<Uint8Array> {
    // A CRL changes; a cached one is used for 12 hours online, and for as long as needed offline.
    return this.#download(`/${kind}/v1/${product}/crl`, `${product} CRL`, CRL_MAX_AGE_MS)
  }

  async #download(path: string, what: string, maxAgeMs = Infinity): Promise<Uint8Array> {
    const url = this.#baseUrl + path
    const cacheFile =
      this.#options.cacheDir === undefined
        ? undefined
        : // Keyed by path, not host: every KDS mirror serves the same certificates, and they are verified anyway.
          join(this.#options.cacheDir, 'kds', createHash('sha256').update(path).digest('hex'))
    if (cacheFile !== undefined) {
      const cached = await readIfExists(cacheFile)
      const fresh =
        this.#options.offline === true ||
        maxAgeMs === Infinity ||
        Date.now() - (await stat(cacheFile).catch(() => ({ mtimeMs: 0 }))).mtimeMs < maxAgeMs
      if (cached !== undefined && fresh) return cached
    }
    if (this.#options.offline === true) {
      throw new UnavailableError(
        'ERR_KDS_OFFLINE',
        `the ${what} is not in the offline store or the cache, and --offline forbids fetching it`,
        {
          details: { url },
          hint: 'add it to the offline store, give it with --certs, or drop --offline',
        },
      )
    }
    const bytes = await this.#fetchWithRetries(url, what)
    if (cacheFile !== undefined) {
      await mkdir(join(cacheFile, '..'), { recursive: true })
      await writeFileAtomic(cacheFile, bytes, { what: `cached ${what}` })
    }
    return bytes
  }

  async #fetchWithRetries(url: string, what: string): Promise<Uint8Array> {
    const attempts = this.#options.attempts ?? 4
    const fetchImpl = this.#options.fetch ?? fetch
    const sleep = this.#options.sleep ?? sleepTimer
    let delay = this.#options.backoffMs ?? 1000
    let lastReason = ''
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let retryAfter: number | undefined
      try {
        const response = await fetchImpl(url, {
          signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
          redirect: 'error',
        })
        if (response.ok) return new Uint8Array(await response.arrayBuffer())
        if (response.status === 404) {
          throw new UnavailableError(
            'ERR_KDS_NOT_FOUND',
            `AMD KDS has no ${what} at ${url} (HTTP 404)`,
            {
              details: { url, status: 404 },
              hint: 'check the product line, CHIP_ID and TCB values',
            },
          )
        }
        lastReason = `HTTP ${response.status}`
        const header = response.headers.get('retry-after')
        if (header !== null && /^\d+$/.test(header)) retryAfter = Number(header) * 1000
        if (response.status < 500 && response.status !== 429) break
      } catch (error) {
        if (error instanceof UnavailableError) throw error
        lastReason =
          error instanceof Error && error.name === 'TimeoutError'
            ? 'timed out'
            : error instanceof Error
              ? error.message
              : String(error)
      }
      if (attempt < attempts) {
        await sleep(Math.max(delay, retryAfter ?? 0))
        delay *= 2
      }
    }
    throw new UnavailableError(
      'ERR_KDS_UNAVAILABLE',
      `cannot download the ${what} from AMD KDS: ${lastReason}`,
      {
        details: { url, reason: lastReason },
        hint: 'KDS throttles: try again later, or use an offline store (--offline with a VCEK directory)',
      },
    )
  }
}

async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined
    throw error
  }
}
