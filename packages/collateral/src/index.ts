/**
 * @initguard/collateral: Vendor collateral: AMD KDS (VCEK, VLEK chains, CRLs) and Intel PCS/PCCS (TCB info, QE identity, CRLs) clients with an on-disk cache, offline mode, timeouts and backoff.
 *
 * @module
 */
export {
  AMD_KDS_URL,
  AmdKdsClient,
  kdsHardwareId,
  vcekPath,
  type AmdKdsOptions,
  type KdsProduct,
  type KdsTcb,
} from './amd-kds.ts'
export {
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_CACHE_MAX_ENTRIES,
  checkCacheBound,
  type CacheBound,
  type CheckedCacheBound,
} from './cache-directory.ts'
export {
  CachedDownloader,
  type DownloadOptions,
  type Downloaded,
  type DownloadRequest,
} from './cached-download.ts'
export {
  DEFAULT_MAX_CONCURRENT_DOWNLOADS,
  DEFAULT_MAX_QUEUED_DOWNLOADS,
  MAX_CONCURRENT_LIMIT,
  MAX_QUEUED_LIMIT,
  NOT_FOUND_TTL_LIMIT_MS,
  DEFAULT_NOT_FOUND_TTL_MS,
  checkDownloadLimits,
  type CheckedDownloadLimits,
  type DownloadLimits,
} from './download-limits.ts'
export {
  INTEL_PCS_URL,
  INTEL_ROOT_CA_CRL_URL,
  IntelPcsClient,
  PCS_DOWNLOADS_PER_QUOTE,
  type CollateralRequest,
  type IntelPcsOptions,
  type RawDcapCollateral,
} from './intel-pcs.ts'
export { readIfExists } from './read-if-exists.ts'
