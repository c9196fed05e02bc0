/**
 * @initguard/adapters: the edges where Initguard touches the world (files now; configfs-tsm,
 * collateral fetchers, registries and stores as they arrive).
 *
 * @module
 */
export { DEFAULT_MAX_INPUT_SIZE, readInput, writeFileAtomic } from './local-files.ts'
export type { ReadInputOptions, WriteOptions } from './local-files.ts'
export { AMD_KDS_URL, AmdKdsClient, kdsHardwareId, vcekPath } from './amd-kds.ts'
export type { AmdKdsOptions, KdsProduct, KdsTcb } from './amd-kds.ts'
export { CachedDownloader, readIfExists } from './cached-download.ts'
export type { DownloadOptions, Downloaded, DownloadRequest } from './cached-download.ts'
export { INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL, IntelPcsClient } from './intel-pcs.ts'
export type { CollateralRequest, IntelPcsOptions, RawDcapCollateral } from './intel-pcs.ts'
export { DEFAULT_MAX_UNPACKED_SIZE, unpackLayer } from './oci-layer-unpack.ts'
export type { UnpackLayerOptions, UnpackLayerResult } from './oci-layer-unpack.ts'
export { readTar } from './tar-reader.ts'
export type { TarEntry, TarEntryType } from './tar-reader.ts'
