/**
 * The guest API's listen address: `HOST:PORT` or `[IPv6]:PORT`, and whether a host is loopback
 * (127.0.0.0/8, ::1, `localhost`), the only addresses served without an explicit flag. A name is
 * only a first filter: what it bound is checked after listen ({@link isLoopbackAddress}).
 *
 * @module
 */
import { UsageError } from '@initguard/core'
// Not the package's root: that is the outbound client (node:https, TLS), which the agent loads
// only with the KBS client, at its first KBS request; parsing --listen needs none of it.
import { isLoopbackAddress, parseHostPort } from '@initguard/http/host-port'

export { isLoopbackAddress }

/** Where the guest API listens. */
export interface GuestApiAddress {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
}

/** CoCo's api-server-rest default. */
export const DEFAULT_GUEST_API_ADDRESS: GuestApiAddress = { host: '127.0.0.1', port: 8006 }

/**
 * `HOST:PORT` (`[IPv6]:PORT`) as a {@link GuestApiAddress}, read by {@link parseHostPort}.
 *
 * @throws {@link UsageError} `ERR_AGENT_LISTEN_VALUE`.
 */
export function parseGuestApiAddress(text: string): GuestApiAddress {
  const address = parseHostPort(text)
  if (address === undefined)
    throw new UsageError(
      'ERR_AGENT_LISTEN_VALUE',
      `${JSON.stringify(text.slice(0, 80))} is not HOST:PORT`,
      {
        hint: 'give e.g. 127.0.0.1:8006 or [::1]:8006: an IP address or DNS name, and a port from 0 to 65535 without leading zeros',
      },
    )
  return address
}

/**
 * True for a loopback address and for the name `localhost`, which must then be checked again
 * by what it bound ({@link isLoopbackAddress}): a resolver may map it elsewhere.
 */
export function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === 'localhost' || isLoopbackAddress(host)
}
