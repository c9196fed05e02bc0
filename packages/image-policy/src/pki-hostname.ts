/**
 * Go's `x509.Certificate.VerifyHostname`, which containers/image applies to the `pki` key
 * source's `subjectHostname`: an IP address (optionally in brackets) matches only IP SANs; any
 * other name matches DNS SANs case-insensitively, with a wildcard only as the whole left-most
 * label of a valid pattern. The subject's common name is ignored, as in Go since 1.15.
 *
 * @module
 * @internal
 */
import type { SigstoreCertificate } from './sigstore-x509.ts'

/**
 * Go's `validHostname`: labels of letters, digits, `-` (not first) and `_`; a pattern may start
 * with a `*` label, but a bare `*` is neither a name nor a pattern (RFC 6125), so a certificate
 * whose DNS SAN is `*` matches only the literal host `*`, never every single-label host.
 */
function validHostname(host: string, isPattern: boolean): boolean {
  const name = isPattern ? host : host.replace(/\.$/, '')
  if (name === '' || name === '*') return false
  return name
    .split('.')
    .every(
      (label, i) =>
        (isPattern && i === 0 && label === '*') || /^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(label),
    )
}

const lowerAscii = (text: string): string => text.replace(/[A-Z]/g, (c) => c.toLowerCase())

function matchHostnames(pattern: string, host: string): boolean {
  const patternLabels = lowerAscii(pattern).split('.')
  const hostLabels = lowerAscii(host.replace(/\.$/, '')).split('.')
  if (pattern === '' || hostLabels.join('.') === '') return false
  if (patternLabels.length !== hostLabels.length) return false
  return patternLabels.every((label, i) => (i === 0 && label === '*') || label === hostLabels[i])
}

function matchExactly(a: string, b: string): boolean {
  if (a === '' || a === '.' || b === '' || b === '.') return false
  return lowerAscii(a) === lowerAscii(b)
}

/** Go's `net.ParseIP` for dotted IPv4 (no leading zeros): 4 bytes, or undefined. */
function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const bytes = parts.map((p) => (/^(0|[1-9][0-9]{0,2})$/.test(p) ? Number(p) : 256))
  return bytes.every((b) => b <= 255) ? bytes : undefined
}

/** Go's `net.ParseIP` for IPv6 (with `::` and a trailing dotted IPv4): 16 bytes, or undefined. */
function parseIpv6(text: string): number[] | undefined {
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const groups = (half: string): number[] | undefined => {
    if (half === '') return []
    const out: number[] = []
    const parts = half.split(':')
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4(part)
        if (v4 === undefined) return undefined
        out.push(...v4)
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        const n = parseInt(part, 16)
        out.push(n >> 8, n & 0xff)
      } else return undefined
    }
    return out
  }
  const head = groups(halves[0] ?? '')
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : []
  if (head === undefined || tail === undefined) return undefined
  const fill = 16 - head.length - tail.length
  if (halves.length === 2 ? fill < 2 : fill !== 0) return undefined
  return [...head, ...new Array<number>(fill).fill(0), ...tail]
}

/** An IP address as 16 bytes (IPv4 mapped into IPv6, as Go's `net.IP.Equal` compares them). */
function ipAs16(bytes: readonly number[]): string {
  const full = bytes.length === 4 ? [...new Array<number>(10).fill(0), 0xff, 0xff, ...bytes] : bytes
  return full.join(',')
}

function parseIp(text: string): number[] | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text)
}

/** Whether `cert` is valid for `host`, as Go's `VerifyHostname` decides. */
export function certificateMatchesHostname(cert: SigstoreCertificate, host: string): boolean {
  const bracketed = host.length >= 3 && host.startsWith('[') && host.endsWith(']')
  const ip = parseIp(bracketed ? host.slice(1, -1) : host)
  if (ip !== undefined) {
    const wanted = ipAs16(ip)
    return cert.ipAddresses.some((candidate) => ipAs16([...candidate]) === wanted)
  }
  const candidate = lowerAscii(host)
  const validCandidate = validHostname(candidate, false)
  return cert.dnsNames.some((name) =>
    validCandidate && validHostname(name, true)
      ? matchHostnames(name, candidate)
      : matchExactly(name, candidate),
  )
}
