/**
 * Structure-aware mutations, where they are cheap: JSON values replaced, removed, re-typed or
 * swapped (and base64 or hex strings inside JSON decoded, mutated as bytes and encoded again, which
 * reaches the binary parsers behind Trustee's evidence JSON); TOML and other text by lines and by
 * the format's own tokens.
 *
 * @module
 */
import { mutateBytes } from './mutate-bytes.ts'
import type { FuzzRandom } from './random.ts'

/** How a seed is written, which decides the mutators that apply. */
export type SeedFormat = 'binary' | 'json' | 'toml' | 'text'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function deeplyNested(depth: number): unknown {
  let value: unknown = 0
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value }
  return value
}

function interestingValue(random: FuzzRandom): unknown {
  return random.pick<() => unknown>([
    () => null,
    () => true,
    () => 0,
    () => -1,
    () => 1.5,
    () => 2 ** 53 + 2,
    () => 1e308,
    () => '',
    () => 'A'.repeat(random.smallCount(70_000)),
    () => '\u0000',
    () => '\ud800',
    () => '__proto__',
    () => [],
    () => ({}),
    () => ({ __proto__: { polluted: true } }),
    () => deeplyNested(random.smallCount(5000)),
    () => '-1',
    () => '0x10',
    () => '1970-01-01T00:00:00Z',
    () => '9999-12-31T23:59:59.999999999Z',
  ])()
}

type Container = Record<string, unknown> | unknown[]

/** Every container in `value` with its keys, to pick a place to mutate. */
function places(
  value: unknown,
  found: [Container, string | number][] = [],
  depth = 0,
): typeof found {
  if (depth > 64 || found.length > 2000) return found
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      found.push([value, i])
      places(item, found, depth + 1)
    })
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      found.push([value as Record<string, unknown>, key])
      places(item, found, depth + 1)
    }
  }
  return found
}

const BASE64 = /^[A-Za-z0-9+/_-]{16,}={0,2}$/
const HEX = /^(?:[0-9a-fA-F]{2}){4,}$/

function mutateString(text: string, random: FuzzRandom): string {
  if (HEX.test(text) && random.chance(0.7)) {
    return Buffer.from(mutateBytes(Buffer.from(text, 'hex'), random, [])).toString('hex')
  }
  if (BASE64.test(text) && random.chance(0.8)) {
    const url =
      /[-_]/.test(text) || (!text.includes('=') && !/[+/]/.test(text) && random.chance(0.5))
    const bytes = mutateBytes(Buffer.from(text, url ? 'base64url' : 'base64'), random, [])
    return Buffer.from(bytes).toString(url ? 'base64url' : 'base64')
  }
  return decoder.decode(mutateBytes(encoder.encode(text), random, []))
}

function mutateJsonValue(root: unknown, random: FuzzRandom, donors: readonly unknown[]): unknown {
  const all = places(root)
  if (all.length === 0) return interestingValue(random)
  const [container, key] = random.pick(all)
  const get = (): unknown => (container as Record<string | number, unknown>)[key]
  const set = (value: unknown): void => {
    ;(container as Record<string | number, unknown>)[key] = value
  }
  const current = get()
  switch (random.below(7)) {
    case 0:
      set(interestingValue(random))
      break
    case 1:
      if (Array.isArray(container)) container.splice(Number(key), 1)
      else Reflect.deleteProperty(container, key)
      break
    case 2:
      if (typeof current === 'string') set(mutateString(current, random))
      else if (typeof current === 'number') set(random.chance(0.5) ? -current : current + 1)
      else set(interestingValue(random))
      break
    case 3:
      set(typeof current === 'string' ? Number(current) || current.length : String(current))
      break
    case 4: {
      const donor = places(random.pick(donors))
      if (donor.length > 0) {
        const [other, otherKey] = random.pick(donor)
        set(structuredClone((other as Record<string | number, unknown>)[otherKey]))
      }
      break
    }
    case 5:
      if (Array.isArray(container)) container.push(structuredClone(current))
      else container[`x${String(random.below(10))}`] = structuredClone(current)
      break
    default:
      if (typeof current === 'string') set(mutateString(current, random))
      else set([current])
  }
  return root
}

const JSON_TOKENS = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ':',
  ',',
  '\\u0000',
  '\\ud800',
  '1e999',
  '-0',
  'null',
  '\n',
]
const TOML_TOKENS = [
  '[',
  ']',
  '[[',
  ']]',
  "'''",
  '"""',
  '=',
  '\\',
  '#',
  '\n',
  '\r\n',
  'inf',
  'nan',
  '-0',
  '0x7fffffffffffffff',
  '1979-05-27T07:32:00Z',
  '"a".b',
  '{ a = 1 }',
  '[1, "a"]',
  '\ufeff',
  '\u0000',
]

function insertToken(text: string, random: FuzzRandom, tokens: readonly string[]): string {
  const at = random.below(text.length + 1)
  return text.slice(0, at) + random.pick(tokens) + text.slice(at)
}

function mutateLines(text: string, random: FuzzRandom): string {
  const lines = text.split('\n')
  const i = random.below(lines.length)
  const j = random.below(lines.length)
  switch (random.below(4)) {
    case 0:
      lines.splice(i, 1)
      break
    case 1:
      lines.splice(i, 0, lines[j] ?? '')
      break
    case 2:
      ;[lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? '']
      break
    default: {
      const line = lines[i] ?? ''
      const eq = line.indexOf('=')
      lines[i] = eq === -1 ? line : `${line.slice(0, eq + 1)} ${String(interestingValue(random))}`
    }
  }
  return lines.join('\n')
}

/**
 * One mutation of `input` in `format`: structural when the format allows it (about half the time),
 * else byte-level. `donors` are the other seeds of the same entry point.
 */
export function mutateInput(
  input: Uint8Array,
  format: SeedFormat,
  random: FuzzRandom,
  donors: readonly Uint8Array[],
): Uint8Array {
  if (format === 'binary' || random.chance(0.4)) return mutateBytes(input, random, donors)
  const text = decoder.decode(input)
  if (format === 'json') {
    if (random.chance(0.15)) return encoder.encode(insertToken(text, random, JSON_TOKENS))
    try {
      const root: unknown = JSON.parse(text)
      const parsedDonors = donors.slice(0, 4).map((d): unknown => {
        try {
          return JSON.parse(decoder.decode(d))
        } catch {
          return null
        }
      })
      const mutated = mutateJsonValue(root, random, [root, ...parsedDonors])
      return encoder.encode(JSON.stringify(mutated, null, random.chance(0.2) ? 2 : undefined))
    } catch {
      return mutateBytes(input, random, donors)
    }
  }
  const tokens =
    format === 'toml'
      ? TOML_TOKENS
      : [...TOML_TOKENS, ...JSON_TOKENS, ': ', '- ', '&a', '*a', '!!str']
  return encoder.encode(
    random.chance(0.5) ? mutateLines(text, random) : insertToken(text, random, tokens),
  )
}
