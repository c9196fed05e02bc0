/**
 * @initguard/oci: OCI images: the distribution client (auth, manifests, blobs, retries), registries.d and lookaside signature stores, cosign attachments, image check against the policy, pull, and streaming layer unpacking that never writes outside the target.
 *
 * @module
 */
export {
  DEFAULT_MAX_LAYER_ENTRIES,
  DEFAULT_MAX_UNPACKED_SIZE,
  unpackLayer,
  type LayerSource,
  type UnpackLayerOptions,
  type UnpackLayerResult,
} from './oci-layer-unpack.ts'
export {
  MAX_TAR_EXTENSION_SIZE,
  readTar,
  TarStreamReader,
  type TarEntry,
  type TarEntryType,
  type TarEvent,
  type TarHeader,
} from './tar-reader.ts'
export { MAX_ZSTD_WINDOW } from './zstd-layer.ts'
export {
  MAX_REGISTRIES_D_FILE_SIZE,
  loadRegistriesD,
  parseRegistriesD,
  type LoadRegistriesDOptions,
  type RegistriesDConfig,
  type RegistriesDFile,
  type RegistriesDSection,
} from './registries-d.ts'
export { lookasideFor, lookasideSignatureURL, type LookasideChoice } from './lookaside-location.ts'
export { redactUrl } from '@initguard/http'
export { MAX_IMAGE_SIGNATURES, MAX_SIGNATURE_SIZE } from './signature-limits.ts'
export {
  readLookasideSignatures,
  type LookasideReadOptions,
  type LookasideSignature,
} from './lookaside.ts'
export {
  defaultDockerConfigPath,
  dockerCredentialsFor,
  loadDefaultDockerConfig,
  loadDockerConfig,
  normalizeRegistryHost,
  parseDockerConfig,
  type DockerAuthEntry,
  type DockerConfig,
  type RegistryCredentials,
  type RegistryCredentialsLookup,
} from './docker-credentials.ts'
export {
  DOCKER_LIST_MEDIA_TYPE,
  DOCKER_MANIFEST_MEDIA_TYPE,
  MANIFEST_MEDIA_TYPES,
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  computeDigest,
  digestAlgorithm,
  isSchema1MediaType,
  parseDescriptor,
  parseManifest,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type ParsedManifest,
  type Platform,
} from './oci-manifest.ts'
export {
  DEFAULT_PLATFORM,
  MAX_PLATFORM_CANDIDATES,
  chooseIndexEntry,
  formatPlatform,
  normalizePlatform,
  platformCandidates,
  type IndexEntryChoice,
} from './oci-platform-choice.ts'
export { parseWwwAuthenticate, type AuthChallenge } from './registry-auth.ts'
export {
  DEFAULT_BLOB_DEADLINE_BASE_MS,
  DEFAULT_BLOB_MIN_BYTES_PER_SECOND,
  DEFAULT_MAX_BLOB_SIZE,
  blobDeadlineMs,
  type BlobDeadline,
  type BlobDownloadOptions,
  type BlobProgress,
  type PullBlobsOptions,
  type PulledBlob,
} from './registry-blobs.ts'
export {
  DEFAULT_MAX_MANIFEST_SIZE,
  RegistryClient,
  dockerConfigCredentials,
  type FetchedManifest,
  type RegistryClientOptions,
  type ResolvedImage,
} from './registry-client.ts'
export type { RegistryHttpOptions } from './registry-http.ts'
export {
  parseRepository,
  type RegistryTransportOptions,
  type Repository,
} from './registry-transport.ts'
export {
  MAX_KEY_FILE_SIZE,
  checkImage,
  loadKeyFiles,
  requirementFiles,
  type CheckImageOptions,
  type CheckedImage,
} from './image-check.ts'
export {
  defaultLookasideStore,
  findImageSignatures,
  sigstoreAttachmentTag,
  type FindSignaturesOptions,
  type FoundSignatures,
  type SignatureSources,
} from './image-signatures.ts'
export {
  DEFAULT_MAX_TOTAL_UNPACKED_SIZE,
  ImagePolicyRejectedError,
  MAX_IMAGE_LAYERS,
  MAX_LAYER_BLOB_SIZE,
  pullImage,
  type PullImageOptions,
  type PulledImage,
} from './image-pull.ts'
export { checkDirImage, readDirImage, type CheckedDirImage, type DirImage } from './dir-image.ts'
export { checkOciLayoutImage, type CheckedOciLayoutImage } from './oci-layout-image.ts'
