/**
 * @initguard/http: the one outbound HTTP client (timeouts, body limits, retries that honour
 * `Retry-After`, safe redirects, DNS failures at once, redacted URLs, per-client TLS trust) and the coded errors each
 * caller maps its failures to.
 *
 * @module
 */
export { HttpClient } from './http-client.ts'
export type { HttpClientOptions, HttpRequest } from './http-client.ts'
export { httpErrors } from './http-errors.ts'
export type {
  HttpErrorMapper,
  HttpErrorScheme,
  HttpFailure,
  HttpFailureKind,
} from './http-errors.ts'
export { HttpResponse } from './http-response.ts'
export type { BodyLimit } from './http-response.ts'
export {
  PINNED_CERTIFICATE_MISMATCH,
  certificateFailure,
  hopelessNetworkFailure,
  isTransportFailure,
} from './network-failure.ts'
export type { HopelessNetworkFailure } from './network-failure.ts'
export { redactUrl } from './redact-url.ts'
export type { RedactUrlOptions } from './redact-url.ts'
export { tlsFetch } from './tls-fetch.ts'
export type { HttpTlsOptions } from './tls-fetch.ts'
export { backoffDelay, isRetryableStatus, retryAfterMs } from './retry-policy.ts'
