/**
 * @initguard/collateral: Vendor collateral: AMD KDS (VCEK, VLEK chains, CRLs) and Intel PCS/PCCS (TCB info, QE identity, CRLs) clients with an on-disk cache, offline mode, timeouts and backoff.
 *
 * @module
 */
export { AMD_KDS_URL, AmdKdsClient, kdsHardwareId, vcekPath } from './amd-kds.ts'
export type { AmdKdsOptions, KdsProduct, KdsTcb } from './amd-kds.ts'
export { CachedDownloader, readIfExists } from './cached-download.ts'
export type { DownloadOptions, Downloaded, DownloadRequest } from './cached-download.ts'
export { INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL, IntelPcsClient } from './intel-pcs.ts'
export type { CollateralRequest, IntelPcsOptions, RawDcapCollateral } from './intel-pcs.ts'
