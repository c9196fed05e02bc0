/**
 * Listen addresses (`HOST:PORT`, `[IPv6]:PORT`) and loopback, one reading for every service.
 *
 * The KBS and the guest agent each parsed these with a regular expression of their own, which
 * took a port written `08006` and a host `999.1.1.1` (a name to the regular expression, an
 * address to the resolver, which then failed on it), and each judged loopback by string compare,
 * so `0::1` or `::ffff:7f00:1` was not loopback. Here a port is written as a number is written,
 * a host is a valid IP address or a DNS name of RFC 1123 labels, and loopback is decided by
 * Node's own address arithmetic ({@link BlockList}), however the address is spelt.
 *
 * @module
 */
import { BlockList, isIP } from 'node:net'

/** A host and port read from `HOST:PORT` (an IPv6 host without its brackets). */
export interface HostPort {
  readonly host: string
  /** 0 asks the operating system for a free port. */
  readonly port: number
}

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(0|[1-9][0-9]{0,4})$/
/** One DNS label (RFC 1123): letters, digits and inner hyphens, 1 to 63 characters. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

/**
 * `HOST:PORT` or `[IPv6]:PORT` as a {@link HostPort}, or `undefined` when `text` is not one.
 *
 * Refused: a port above 65535 or with leading zeros; an IPv6 address without brackets; a bracketed
 * text that is not an IPv6 address; a name with an empty or over-long label, or longer than 253;
 * a name whose last label is all digits unless the whole is a dotted IPv4 address (a resolver
 * would read `999.1.1.1` or `10.1` as an address attempt, as URL parsers do).
 */
export function parseHostPort(text: string): HostPort | undefined {
  const match = HOST_PORT.exec(text)
  if (match === null) return undefined
  const port = Number(match[3])
  if (port > 65535) return undefined
  const [, v6, name] = match
  if (v6 !== undefined) return isIP(v6) === 6 ? { host: v6, port } : undefined
  if (name === undefined || !isHostName(name)) return undefined
  return { host: name, port }
}

/** A dotted IPv4 address, or a DNS name whose labels are valid and whose last is not a number. */
function isHostName(name: string): boolean {
  if (isIP(name) === 4) return true
  const labels = name.split('.')
  const last = labels.at(-1) ?? ''
  return name.length <= 253 && !/^[0-9]+$/.test(last) && labels.every((label) => LABEL.test(label))
}

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6')

/**
 * True for an IP address in 127.0.0.0/8 or `::1`, in any spelling (`0::1`, `::ffff:127.0.0.1`,
 * `::ffff:7f00:1`); false for any name, `localhost` included (a resolver decides what a name is).
 */
export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 0) return false
  return LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6')
}
