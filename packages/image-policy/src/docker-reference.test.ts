import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { isInitguardError, type InitguardError } from '@initguard/core'
import {
  dockerPolicyNamespaces,
  parseDockerImageReference,
  parseDockerReference,
} from './docker-reference.ts'

function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

const D = 'sha256:' + 'a'.repeat(64)

describe('parseDockerImageReference normalisation', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/user/app:v1', 'docker.io/user/app:v1'],
    ['user/app', 'docker.io/user/app:latest'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app:v1', 'localhost:5000/app:v1'],
    ['quay.io/org/team/app', 'quay.io/org/team/app:latest'],
    ['Quay.IO/org/app:v1', 'Quay.IO/org/app:v1'],
    ['127.0.0.1:5055/test/hello:v1', '127.0.0.1:5055/test/hello:v1'],
    ['[::1]:5000/app', '[::1]:5000/app:latest'],
    ['foo.com:5000', 'docker.io/library/foo.com:5000'],
    ['a/b/c/d/e', 'docker.io/a/b/c/d/e:latest'],
    ['app-x__y.z_w---q', 'docker.io/library/app-x__y.z_w---q:latest'],
    [`quay.io/org/app@${D}`, `quay.io/org/app@${D}`],
    ['busybox:Tag_1.0-x', 'docker.io/library/busybox:Tag_1.0-x'],
  ])('%s → %s', (input, identity) => {
    expect(parseDockerImageReference(input).identity).toBe(identity)
  })

  it('exposes repository, parents, host and wildcards', () => {
    const ref = parseDockerImageReference('a.b.example.com:5000/ns1/ns2/app:v1')
    expect(ref.name).toBe('a.b.example.com:5000/ns1/ns2/app')
    expect(ref.path).toBe('ns1/ns2/app')
    expect(ref.parentNamespaces).toEqual([
      'a.b.example.com:5000/ns1/ns2',
      'a.b.example.com:5000/ns1',
    ])
    expect(ref.host).toBe('a.b.example.com:5000')
    expect(ref.wildcardScopes).toEqual(['*.b.example.com', '*.example.com', '*.com'])
    expect(dockerPolicyNamespaces(ref)).toHaveLength(7)
  })

  it('gives IPv4 hosts wildcards and IPv6 hosts none (plain string work)', () => {
    expect(parseDockerImageReference('127.0.0.1:5055/x').wildcardScopes).toEqual([
      '*.0.0.1',
      '*.0.1',
      '*.1',
    ])
    expect(parseDockerImageReference('[::1]:5000/x').wildcardScopes).toEqual([])
  })

  it('keeps tag and digest together when parsing a claimed identity', () => {
    const ref = parseDockerReference(`busybox:1@${D}`)
    expect(ref.text).toBe(`docker.io/library/busybox:1@${D}`)
    expect(parseDockerReference('busybox').tag).toBeUndefined()
  })
})

describe('parseDockerImageReference errors', () => {
  it.each([
    ['', 'ERR_IMAGE_REF_EMPTY'],
    ['a'.repeat(64), 'ERR_IMAGE_REF_IDENTIFIER'],
    ['Busybox', 'ERR_IMAGE_REF_UPPERCASE'],
    ['quay.io/Org/app', 'ERR_IMAGE_REF_UPPERCASE'],
    [`busybox:1@${D}`, 'ERR_IMAGE_REF_TAG_AND_DIGEST'],
    ['busybox@sha256:abc', 'ERR_IMAGE_REF_FORMAT'],
    [`busybox@sha256:${'A'.repeat(64)}`, 'ERR_IMAGE_REF_DIGEST'],
    [`busybox@sha256:${'a'.repeat(63)}0a`, 'ERR_IMAGE_REF_DIGEST'],
    [`busybox@md5:${'a'.repeat(32)}`, 'ERR_IMAGE_REF_DIGEST'],
    ['busybox:', 'ERR_IMAGE_REF_FORMAT'],
    ['busybox:-x', 'ERR_IMAGE_REF_FORMAT'],
    [`busybox:${'a'.repeat(129)}`, 'ERR_IMAGE_REF_FORMAT'],
    ['quay.io/', 'ERR_IMAGE_REF_FORMAT'],
    ['quay.io//app', 'ERR_IMAGE_REF_FORMAT'],
    ['-app', 'ERR_IMAGE_REF_FORMAT'],
    ['app_', 'ERR_IMAGE_REF_FORMAT'],
    ['a___b', 'ERR_IMAGE_REF_FORMAT'],
    ['a..b', 'ERR_IMAGE_REF_FORMAT'],
    ['-host.com/app', 'ERR_IMAGE_REF_FORMAT'],
    ['host.com:port/app', 'ERR_IMAGE_REF_FORMAT'],
    [`quay.io/${'a'.repeat(250)}`, 'ERR_IMAGE_REF_TOO_LONG'],
  ])('%s → %s', (input, code) => {
    const error = thrown(() => parseDockerImageReference(input))
    expect(error.code).toBe(code)
    expect(error.details).toHaveProperty('field', 'image reference')
  })

  it('throws only InitguardErrors on arbitrary input', () => {
    const alphabet = fc.constantFrom(
      ...'aZ0:/@._-[]9f'.split(''),
      'sha256:',
      'localhost',
      'docker.io',
    )
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(alphabet, { maxLength: 20 }).map((p) => p.join('')),
        ),
        (text) => {
          try {
            const ref = parseDockerImageReference(text)
            expect(parseDockerImageReference(ref.identity).identity).toBe(ref.identity)
          } catch (e) {
            if (!isInitguardError(e)) throw e
          }
        },
      ),
      { numRuns: 2000 },
    )
  })
})
