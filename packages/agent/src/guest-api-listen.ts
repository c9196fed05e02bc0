/**
 * The guest API's listen address: `HOST:PORT` or `[IPv6]:PORT`, and whether a host is loopback
 * (127.0.0.0/8, ::1, `localhost`), the only addresses served without an explicit flag. A name is
 * only a first filter: what it bound is checked after listen ({@link isLoopbackAddress}).
 *
 * @module
 */
import { isIP } from 'node:net'
import { UsageError } from '@initguard/core'

/** Where the guest API listens. */
export interface GuestApiAddress {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
}

/** CoCo's api-server-rest default. */
export const DEFAULT_GUEST_API_ADDRESS: GuestApiAddress = { host: '127.0.0.1', port: 8006 }

/**
 * `HOST:PORT` (`[IPv6]:PORT`) as a {@link GuestApiAddress}.
 *
 * @throws {@link UsageError} `ERR_AGENT_LISTEN_VALUE`.
 */
export function parseGuestApiAddress(text: string): GuestApiAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(text)
  const port = Number(match?.[3])
  const v6 = match?.[1]
  const host = v6 ?? match?.[2]
  if (host === undefined || !(port >= 0 && port <= 65535) || (v6 !== undefined && isIP(v6) !== 6))
    throw new UsageError(
      'ERR_AGENT_LISTEN_VALUE',
      `${JSON.stringify(text.slice(0, 80))} is not HOST:PORT`,
      { hint: 'give e.g. 127.0.0.1:8006 or [::1]:8006' },
    )
  return { host, port }
}

/** True for the IP addresses 127.0.0.0/8 and ::1 (also as ::ffff:127.x); false for any name. */
export function isLoopbackAddress(address: string): boolean {
  const name = address.toLowerCase()
  if (name === '::1' || name === '0:0:0:0:0:0:0:1') return true
  const v4 = name.startsWith('::ffff:') ? name.slice(7) : name
  return isIP(v4) === 4 && v4.startsWith('127.')
}

/**
 * True for a loopback address and for the name `localhost`, which must then be checked again
 * by what it bound ({@link isLoopbackAddress}): a resolver may map it elsewhere.
 */
export function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === 'localhost' || isLoopbackAddress(host)
}
