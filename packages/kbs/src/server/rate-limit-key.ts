/**
 * Whom the rate limits count: one IPv4 address, or one IPv6 /64. A host is usually given a whole
 * /64, so counting single IPv6 addresses would let one client rotate through 2^64 of them and
 * never be limited. IPv4-mapped IPv6 (`::ffff:192.0.2.1`) counts as its IPv4 address.
 *
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net'

/** The eight 16-bit groups of a valid IPv6 address, expanding `::` and a trailing IPv4 part. */
function ipv6Groups(address: string): number[] {
  const withoutZone = address.split('%')[0] ?? address
  let text = withoutZone
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1]
  if (dotted !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number)
    text = `${text.slice(0, -dotted.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const part = (s: string): number[] =>
    s === '' ? [] : s.split(':').map((group) => Number.parseInt(group, 16))
  const front = part(head)
  const back = tail === undefined ? [] : part(tail)
  const zeros = new Array<number>(8 - front.length - back.length).fill(0)
  return tail === undefined ? front : [...front, ...zeros, ...back]
}

/** The rate-limit key of a client address (as Fastify reports `request.ip`). */
export function rateLimitKey(ip: string): string {
  if (isIPv4(ip)) return ip
  if (!isIPv6(ip)) return ip
  const groups = ipv6Groups(ip)
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff
  if (mapped) {
    const [, , , , , , high = 0, low = 0] = groups
    return `${String(high >> 8)}.${String(high & 0xff)}.${String(low >> 8)}.${String(low & 0xff)}`
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`
}
