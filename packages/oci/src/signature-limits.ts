/**
 * The limits on the signatures of one image, wherever they are read from: the lookaside store,
 * cosign attachments in the registry, or a `dir:` image. One pair for all three, as in c/image.
 *
 * @module
 */

/**
 * Largest signature (or cosign payload, or `dir:` manifest) read: 4 MiB, c/image's
 * `MaxSignatureBodySize` and `maxSignaturePayloadSize`.
 */
export const MAX_SIGNATURE_SIZE: number = 4 * 1024 * 1024

/** Most signatures read for one manifest: 128, c/image's `maxLookasideSignatures`. */
export const MAX_IMAGE_SIGNATURES = 128
