/**
 * Whether a PostgreSQL URL protects the connection, read the way the driver reads it
 * (`pg-connection-string`). The KBS sends its sealed secrets, its audit log and, at login, a
 * password over this connection, and trusts what comes back (sessions, workloads): it refuses a
 * connection an attacker on the network could read or answer, unless the server is on this host
 * (loopback or a Unix socket directory) or the operator opted in (`--database-insecure-transport`
 * or `[postgres] insecure-transport = true`, which the server logs as a warning).
 *
 * Accepted: `sslmode=verify-full` (certificate and host name), and `sslmode=verify-ca` with an
 * `sslrootcert` (the chain to that CA; without one, any public CA's customer would pass). Refused:
 * no `sslmode`, `disable`, `allow`, `prefer` and `no-verify` (no TLS, or TLS without checking the
 * server), and `require`, which libpq (and pg from version 9, or with `uselibpqcompat=true`)
 * does not verify either.
 *
 * @module
 */
import type { ClientConfig } from 'pg'
import { parse, parseIntoClientConfig } from 'pg-connection-string'
import { LocalIoError, UsageError } from '@initguard/core'
import { isLoopbackAddress } from '@initguard/http'

/** How the connection to PostgreSQL is protected. */
export type PostgresTransport =
  | { readonly kind: 'verified-tls'; readonly sslmode: 'verify-full' | 'verify-ca' }
  /** The server is on this host: loopback or a Unix socket directory. */
  | { readonly kind: 'local'; readonly host: string }
  /** Neither, and the operator opted in. */
  | { readonly kind: 'insecure-opt-in'; readonly sslmode: string }

/**
 * The transport `url` asks for, refused when an attacker on the network could read or answer it.
 *
 * @param location the URL redacted, for messages.
 * @throws {@link UsageError} `ERR_KBS_DATABASE_TLS` for an unprotected remote connection without
 *   the opt-in, or `verify-ca` without `sslrootcert`.
 * @throws {@link LocalIoError} `ERR_KBS_DATABASE_TLS_FILE` when `sslrootcert`, `sslcert` or
 *   `sslkey` cannot be read.
 */
export function checkPostgresTransport(
  url: string,
  location: string,
  insecureTransport: boolean,
): PostgresTransport {
  let options: ReturnType<typeof parse>
  try {
    options = parse(url)
  } catch (error) {
    // The driver reads the TLS files while parsing; its message names the file, not the URL.
    throw new LocalIoError(
      'ERR_KBS_DATABASE_TLS_FILE',
      `cannot read a TLS file named in the database URL ${location}`,
      {
        cause: error,
        hint: 'check the sslrootcert, sslcert and sslkey paths and their permissions',
      },
    )
  }
  const sslmode = typeof options['sslmode'] === 'string' ? options['sslmode'] : undefined
  const compat = options['uselibpqcompat'] === 'true'
  if (sslmode === 'verify-full') return { kind: 'verified-tls', sslmode }
  if (sslmode === 'verify-ca') {
    if (typeof options['sslrootcert'] !== 'string')
      throw refused(location, 'sslmode=verify-ca without sslrootcert trusts every public CA')
    return { kind: 'verified-tls', sslmode }
  }
  const host = options.host ?? ''
  if (isLocalHost(host)) return { kind: 'local', host }
  const mode = sslmode ?? '(none)'
  if (insecureTransport) return { kind: 'insecure-opt-in', sslmode: mode }
  throw refused(
    location,
    `sslmode=${mode}${compat ? ' with uselibpqcompat' : ''} does not verify the server ${JSON.stringify(host)}, which is not on this host`,
  )
}

/**
 * Loopback (127.0.0.0/8 and ::1 in any spelling, `localhost`) or a Unix socket directory (an
 * absolute path).
 */
function isLocalHost(host: string): boolean {
  if (host.startsWith('/')) return true
  if (host === 'localhost') return true
  return isLoopbackAddress(host)
}

function refused(location: string, why: string): UsageError {
  return new UsageError(
    'ERR_KBS_DATABASE_TLS',
    `the database connection ${location} is not protected: ${why}`,
    {
      hint: 'add ?sslmode=verify-full (and sslrootcert=/path/to/ca.pem for a private CA) to the URL; or, only where the network path is protected otherwise, opt in with --database-insecure-transport or [postgres] insecure-transport = true',
    },
  )
}

/**
 * The driver's connection settings for `url`, as `pg` itself would read them from a
 * `connectionString`, except that certificate verification is explicit: where TLS is on and the
 * URL does not turn verification off, `rejectUnauthorized` is true. Only `sslmode=no-verify`, and
 * `prefer` or `require` with `uselibpqcompat=true` (libpq's meaning), turn it off, and those pass
 * {@link checkPostgresTransport} only on this host or with the opt-in. Without that flag
 * pg-connection-string reads `prefer`, `require` and `verify-ca` as `verify-full`: verified here.
 * `pg` leaves it out, and Node then takes it from `NODE_TLS_REJECT_UNAUTHORIZED` at every
 * connection: `=0` in the environment would send the password to any server at all, with
 * `sslmode=verify-full` in the URL.
 *
 * @throws the driver's error for a URL it cannot read (call {@link checkPostgresTransport} first).
 */
export function postgresConnectionConfig(url: string): ClientConfig {
  const config = parseIntoClientConfig(url)
  const ssl = config.ssl
  if (ssl === true) return { ...config, ssl: { rejectUnauthorized: true } }
  if (typeof ssl === 'object' && ssl.rejectUnauthorized === undefined)
    return { ...config, ssl: { ...ssl, rejectUnauthorized: true } }
  return config
}
