/**
 * @initguard/http: the one outbound HTTP client (timeouts, body limits, retries that honour
 * `Retry-After`, safe redirects, DNS failures at once, redacted URLs, per-client TLS trust) and the coded errors each
 * caller maps its failures to.
 *
 * @module
 */
export {
  HttpClient,
  isRedirectStatus,
  type HttpClientOptions,
  type HttpRequest,
} from './http-client.ts'
export {
  httpErrors,
  type HttpErrorMapper,
  type HttpErrorScheme,
  type HttpFailure,
  type HttpFailureKind,
} from './http-errors.ts'
export { isLoopbackAddress, parseHostPort, type HostPort } from './host-port.ts'
export { HttpResponse, type BodyLimit } from './http-response.ts'
export {
  PINNED_CERTIFICATE_MISMATCH,
  certificateFailure,
  hopelessNetworkFailure,
  isTransportFailure,
  type HopelessNetworkFailure,
} from './network-failure.ts'
export { redactUrl, type RedactUrlOptions } from './redact-url.ts'
export { tlsFetch, type HttpTlsOptions } from './tls-fetch.ts'
export { backoffDelay, isRetryableStatus, retryAfterMs } from './retry-policy.ts'
