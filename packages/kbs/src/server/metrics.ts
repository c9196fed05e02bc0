/**
 * The KBS's Prometheus metrics, one registry per app, with Trustee's names
 * (`kbs/docs/metrics.md`) where they fit: HTTP requests and durations by route and status, `/auth`
 * and `/attest` outcomes (attestation by TEE), resource reads/writes and policy approvals and
 * violations.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** The app's metrics. */
export interface KbsMetrics {
  readonly registry: Registry
  readonly httpRequests: Counter<'method' | 'route' | 'status'>
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>
  readonly authRequests: Counter
  readonly authSuccesses: Counter
  readonly authErrors: Counter
  readonly attestationRequests: Counter
  readonly attestationSuccesses: Counter<'tee_type'>
  readonly attestationFailures: Counter<'tee_type'>
  readonly resourceReads: Counter<'resource_path'>
  readonly resourceWrites: Counter<'resource_path'>
  readonly policyApprovals: Counter
  readonly policyViolations: Counter
  /** Connections closed at once: over `limits.max-connections` (total) or per client. */
  readonly connectionsRefused: Counter<'reason'>
}

/**
 * A fresh registry with every KBS metric, and `kbs_build_info{version}` set to 1; with
 * `processMetrics`, prom-client's default metrics of this process too (`process_*`, `nodejs_*`).
 */
export function createKbsMetrics(version: string, processMetrics = false): KbsMetrics {
  const registry = new Registry()
  if (processMetrics) collectDefaultMetrics({ register: registry })
  const counter = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> => new Counter({ name, help, labelNames, registers: [registry] })
  new Gauge({
    name: 'kbs_build_info',
    help: 'KBS build information',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version }, 1)
  return {
    registry,
    httpRequests: counter('kbs_http_requests_total', 'HTTP requests by route and status', [
      'method',
      'route',
      'status',
    ]),
    httpDuration: new Histogram({
      name: 'kbs_http_request_duration_seconds',
      help: 'HTTP request duration in seconds',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    authRequests: counter('kbs_auth_requests_total', 'RCAR /auth requests'),
    authSuccesses: counter('kbs_auth_successes_total', 'RCAR /auth challenges issued'),
    authErrors: counter('kbs_auth_errors_total', 'RCAR /auth requests refused'),
    attestationRequests: counter('kbs_attestation_requests_total', 'RCAR /attest requests'),
    attestationSuccesses: counter(
      'kbs_attestation_successes_total',
      'attestations that got a token',
      ['tee_type'],
    ),
    attestationFailures: counter('kbs_attestation_failures_total', 'attestations refused', [
      'tee_type',
    ]),
    resourceReads: counter('kbs_resource_reads_total', 'resources released', ['resource_path']),
    resourceWrites: counter(
      'kbs_resource_writes_total',
      'resources written or deleted by an admin',
      ['resource_path'],
    ),
    policyApprovals: counter(
      'kbs_policy_approvals_total',
      'resource requests the workload policy allowed',
    ),
    policyViolations: counter(
      'kbs_policy_violations_total',
      'resource requests the workload policy denied',
    ),
    connectionsRefused: counter(
      'kbs_connections_refused_total',
      'connections closed at once by the connection limits',
      ['reason'],
    ),
  }
}
