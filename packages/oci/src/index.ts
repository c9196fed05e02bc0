/**
 * @initguard/oci: OCI images: the distribution client (auth, manifests, blobs, retries), registries.d and lookaside signature stores, cosign attachments, image check against the policy, pull, and streaming layer unpacking that never writes outside the target.
 *
 * @module
 */
export {
  DEFAULT_MAX_LAYER_ENTRIES,
  DEFAULT_MAX_UNPACKED_SIZE,
  unpackLayer,
} from './oci-layer-unpack.ts'
export type { LayerSource, UnpackLayerOptions, UnpackLayerResult } from './oci-layer-unpack.ts'
export { MAX_TAR_EXTENSION_SIZE, readTar, TarStreamReader } from './tar-reader.ts'
export type { TarEntry, TarEntryType, TarEvent, TarHeader } from './tar-reader.ts'
export { MAX_ZSTD_WINDOW } from './zstd-layer.ts'
export { MAX_REGISTRIES_D_FILE_SIZE, loadRegistriesD, parseRegistriesD } from './registries-d.ts'
export type {
  LoadRegistriesDOptions,
  RegistriesDConfig,
  RegistriesDFile,
  RegistriesDSection,
} from './registries-d.ts'
export { lookasideFor, lookasideSignatureURL } from './lookaside-location.ts'
export { redactUrl } from '@initguard/http'
export type { LookasideChoice } from './lookaside-location.ts'
export {
  MAX_LOOKASIDE_SIGNATURES,
  MAX_LOOKASIDE_SIGNATURE_SIZE,
  readLookasideSignatures,
} from './lookaside.ts'
export type { LookasideReadOptions, LookasideSignature } from './lookaside.ts'
export {
  defaultDockerConfigPath,
  dockerCredentialsFor,
  loadDockerConfig,
  normalizeRegistryHost,
  parseDockerConfig,
} from './docker-credentials.ts'
export type { DockerConfig, RegistryCredentials } from './docker-credentials.ts'
export {
  DEFAULT_PLATFORM,
  DOCKER_LIST_MEDIA_TYPE,
  DOCKER_MANIFEST_MEDIA_TYPE,
  MANIFEST_MEDIA_TYPES,
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  computeDigest,
  digestAlgorithm,
  formatPlatform,
  isSchema1MediaType,
  parseDescriptor,
  parseManifest,
  selectPlatform,
} from './oci-manifest.ts'
export type {
  Descriptor,
  ImageIndex,
  ImageManifest,
  ParsedManifest,
  Platform,
} from './oci-manifest.ts'
export { parseWwwAuthenticate } from './registry-auth.ts'
export type { AuthChallenge } from './registry-auth.ts'
export { DEFAULT_MAX_BLOB_SIZE } from './registry-blobs.ts'
export type {
  BlobDownloadOptions,
  BlobProgress,
  PullBlobsOptions,
  PulledBlob,
} from './registry-blobs.ts'
export {
  DEFAULT_MAX_MANIFEST_SIZE,
  RegistryClient,
  dockerConfigCredentials,
} from './registry-client.ts'
export type { FetchedManifest, RegistryClientOptions, ResolvedImage } from './registry-client.ts'
export type { RegistryHttpOptions } from './registry-http.ts'
export { parseRepository } from './registry-transport.ts'
export type { RegistryTransportOptions, Repository } from './registry-transport.ts'
export { MAX_KEY_FILE_SIZE, checkImage, loadKeyFiles, requirementFiles } from './image-check.ts'
export type { CheckImageOptions, CheckedImage } from './image-check.ts'
export {
  MAX_SIGSTORE_ATTACHMENTS,
  MAX_SIGSTORE_PAYLOAD_SIZE,
  defaultLookasideStore,
  findImageSignatures,
  sigstoreAttachmentTag,
} from './image-signatures.ts'
export type {
  FindSignaturesOptions,
  FoundSignatures,
  SignatureSources,
} from './image-signatures.ts'
export {
  DEFAULT_MAX_TOTAL_UNPACKED_SIZE,
  ImagePolicyRejectedError,
  MAX_IMAGE_LAYERS,
  MAX_LAYER_BLOB_SIZE,
  pullImage,
} from './image-pull.ts'
export type { PullImageOptions, PulledImage } from './image-pull.ts'
export { MAX_DIR_FILE_SIZE, MAX_DIR_SIGNATURES, checkDirImage, readDirImage } from './dir-image.ts'
export type { CheckedDirImage, DirImage } from './dir-image.ts'
export { checkOciLayoutImage } from './oci-layout-image.ts'
export type { CheckedOciLayoutImage } from './oci-layout-image.ts'
