/**
 * registries.conf(5) prefixes: every accepted one blocks the repository it names and everything
 * below it (through a real reference parse), nothing beside it; every other one is refused with
 * its code, naming the field and the value.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { isInitguardError } from '@initguard/core'
import { thrown } from '@initguard/testkit'
import { blockedRegistryPrefix, cdhRegistryRules } from './cdh-registry-config.ts'
import { parseDockerImageReference } from './docker-reference.ts'
import { registryPrefix } from './registry-prefix.ts'

const FIELD = 'image.registry_config.registry[0].prefix'
const VALUE = 'ERR_CDH_CONFIG_VALUE'
const UNSUPPORTED = 'ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED'
const DIGEST = `sha256:${'ab'.repeat(32)}`

/** The rules of one blocking entry with this prefix. */
const blocking = (prefix: string) => cdhRegistryRules({ registry: [{ prefix, blocked: true }] })

/** Whether the rules block the image `reference` as the guest pull parses it. */
function blocks(rules: ReturnType<typeof blocking>, reference: string): boolean {
  const ref = parseDockerImageReference(reference)
  return blockedRegistryPrefix(rules, ref.domain, ref.path) !== undefined
}

const label = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?$/u)
const domain = fc.array(label, { minLength: 2, maxLength: 3 }).map((labels) => labels.join('.'))
const host = fc.oneof(
  domain,
  fc.tuple(domain, fc.integer({ min: 1, max: 65535 })).map(([d, port]) => `${d}:${String(port)}`),
  fc.constantFrom('localhost', 'localhost:5000', '[::1]:5000', '127.0.0.1:5000', 'docker.io'),
)
const component = fc.stringMatching(/^[a-z0-9]{1,4}(?:(?:[._]|__|-+)[a-z0-9]{1,4}){0,2}$/u)
const path = fc.array(component, { maxLength: 3 })
const prefixOf = (h: string, p: readonly string[]): string => [h, ...p].join('/')

describe('registryPrefix', () => {
  it.each([
    ['quay.io', 'quay.io'],
    ['Quay.IO/org', 'quay.io/org'],
    ['localhost:5000/a/b', 'localhost:5000/a/b'],
    ['[::1]:5000/a', '[::1]:5000/a'],
    ['*.Example.com', '*.example.com'],
    ['docker.io/library', 'docker.io/library'],
  ])('accepts %j as %j', (value, normal) => {
    expect(registryPrefix(value, FIELD)).toBe(normal)
  })

  it.each([
    ['quay.io/org/', VALUE, /ends with "\/"/u, 'quay.io/org'],
    ['quay.io/', VALUE, /ends with "\/"/u, 'quay.io'],
    ['quay.io//org', VALUE, /empty path component/u, 'quay.io/org'],
    ['quay.io/Org/app', VALUE, /upper case/u, 'quay.io/org/app'],
    ['https://quay.io/org', VALUE, /URI scheme/u, 'without a scheme'],
    ['http://localhost:5000', VALUE, /URI scheme/u, 'without a scheme'],
    ['*.example.com/team', VALUE, /wildcard with a port or a path/u, '*.domain'],
    ['*.example.com:5000', VALUE, /wildcard with a port or a path/u, '*.domain'],
    ['*.', VALUE, /not a \*\.domain/u, '*.domain'],
    ['example.*.com', VALUE, /registry host/u, 'host[:port]'],
    [' quay.io/org', VALUE, /registry host/u, 'host[:port]'],
    ['quay.io/org ', VALUE, /grammar/u, 'host[:port]'],
    ['quay.io/o rg', VALUE, /grammar/u, 'host[:port]'],
    ['registry/org', VALUE, /never has as its registry/u, 'docker.io/registry'],
    ['index.docker.io/library', VALUE, /normalise/u, 'docker.io'],
    [`quay.io/${'a'.repeat(250)}`, VALUE, /255/u, 'host[:port]'],
    ['quay.io/org/app:v1', UNSUPPORTED, /tag/u, 'without its tag'],
    [`quay.io/org/app@${DIGEST}`, UNSUPPORTED, /digest/u, 'without its digest'],
    [`localhost:5000/app:v1@${DIGEST}`, UNSUPPORTED, /digest/u, 'without its digest'],
    ['quay.io/org/app@sha256:abc', VALUE, /grammar/u, 'host[:port]'],
  ])('refuses %j with %s, naming field and value', (value, code, why, hint) => {
    const error = thrown(() => registryPrefix(value, FIELD))
    expect(error.code).toBe(code)
    expect(error.message).toContain(FIELD)
    expect(error.message).toContain(JSON.stringify(value.slice(0, 160)).slice(0, -1))
    expect(error.message).toMatch(why)
    expect(error.details).toMatchObject({ field: FIELD, value })
    expect(error.hint).toContain(hint)
  })

  it('every accepted prefix blocks the repository it names and everything below it, nothing beside it (property)', () => {
    fc.assert(
      fc.property(
        host,
        path,
        fc.array(component, { minLength: 1, maxLength: 2 }),
        (h, p, below) => {
          const prefix = prefixOf(h, p)
          const rules = blocking(prefix)
          expect(rules.blocked).toEqual([prefix.replace(h, h.toLowerCase())])
          expect(blocks(rules, `${prefixOf(prefix, below)}:v1`)).toBe(true)
          expect(blocks(rules, `${prefixOf(prefix, below)}@${DIGEST}`)).toBe(true)
          // docker.io/x is a namespace: references name the official image x docker.io/library/x.
          const official = h === 'docker.io' && p.length === 1
          if (p.length > 0 && !official) expect(blocks(rules, `${prefix}:v1`)).toBe(true)
          if (p.length > 0) {
            const beside = [...p.slice(0, -1), `${p[p.length - 1] ?? ''}x`]
            expect(blocks(rules, `${prefixOf(h, beside)}/app:v1`)).toBe(false)
          }
        },
      ),
    )
  })

  it('every accepted wildcard blocks every host under its domain, on any port, not the domain (property)', () => {
    fc.assert(
      fc.property(domain, label, fc.integer({ min: 1, max: 65535 }), (d, sub, port) => {
        const rules = blocking(`*.${d}`)
        expect(blocks(rules, `${sub}.${d}/app:v1`)).toBe(true)
        expect(blocks(rules, `${sub}.${d}:${String(port)}/a/b:v1`)).toBe(true)
        expect(blocks(rules, `${d}/app:v1`)).toBe(false)
        expect(blocks(rules, `${sub}${d}/app:v1`)).toBe(false)
      }),
    )
  })

  it('every malformed variant of a valid prefix is refused with its code (property)', () => {
    const variants = (h: string, p: readonly string[]): [string, string][] => {
      const prefix = prefixOf(h, p)
      const list: [string, string][] = [
        [`${prefix}/`, VALUE],
        [`https://${prefix}`, VALUE],
        [`http://${prefix}`, VALUE],
        [` ${prefix}`, VALUE],
        [`${prefix} `, VALUE],
        [`${prefix}\t`, VALUE],
      ]
      if (p.length > 0) {
        list.push(
          [`*.${prefix}`, VALUE],
          [`${h}//${p.join('/')}`, VALUE],
          [`${h}/${p[0] ?? ''}//x`, VALUE],
          [`${h}/${p.join('/').toUpperCase()}A`, VALUE],
          [`${prefix}:v1`, UNSUPPORTED],
          [`${prefix}@${DIGEST}`, UNSUPPORTED],
        )
      }
      return list
    }
    fc.assert(
      fc.property(host, path, (h, p) => {
        for (const [value, code] of variants(h, p)) {
          const error = thrown(() => blocking(value))
          expect([value, error.code]).toEqual([value, code])
          expect(error.details['value']).toBe(value)
        }
      }),
    )
  })

  it('any text is either refused with one of the two codes or blocks what it names (property)', () => {
    const text = fc.string({
      unit: fc.constantFrom(...'aZ09.-_:/@*[] \tquay.io'.split('')),
      maxLength: 40,
    })
    fc.assert(
      fc.property(text, (value) => {
        let rules: ReturnType<typeof blocking>
        try {
          rules = blocking(value)
        } catch (error) {
          expect(isInitguardError(error)).toBe(true)
          if (isInitguardError(error))
            expect([VALUE, UNSUPPORTED, 'ERR_CDH_CONFIG_TYPE']).toContain(error.code)
          return
        }
        const [prefix = ''] = rules.blocked
        const named = prefix.startsWith('*.') ? `a.${prefix.slice(2)}` : prefix
        expect(blocks(rules, `${named}/x/y:v1`)).toBe(true)
      }),
    )
  })
})
