/**
 * How far ahead of this machine's clock a signer's or a log's timestamp may be.
 *
 * containers/image sets no bound at all: gpg accepts a simple signing signature dated years ahead
 * (only warning), and a Rekor `integratedTime` is not compared with the clock. A timestamp far
 * ahead means one of the clocks is wrong, and if it is ours (a guest early in boot), key expiry,
 * revocation and certificate validity, all judged at our `now`, cannot be trusted either: refuse
 * rather than decide on it. Five minutes covers ordinary skew between an NTP-synchronised signer
 * and a guest whose clock came from its host.
 *
 * @module
 */

/** Seconds a signature or log timestamp may lie after `now`. */
export const CLOCK_SKEW_SECONDS = 300
