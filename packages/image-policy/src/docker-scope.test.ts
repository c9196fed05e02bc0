/**
 * A `transports.docker` scope is accepted exactly when some pulled image could match it: every
 * scope containers/image tries for a real reference is accepted, and the spellings that never
 * match (familiar names, unexpanded Docker Hub names, a wildcard with a port or path, a trailing
 * slash, upper case) are refused by `parseImagePolicy` rather than silently never applying.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import { parseDockerImageReference } from './docker-reference.ts'
import { dockerScopeProblem } from './docker-scope.ts'
import { parseImagePolicy } from './policy.ts'
import { dockerScopeCandidates } from './scope.ts'

const D = `sha256:${'c'.repeat(64)}`
const policyWith = (scope: string): string =>
  JSON.stringify({
    default: [{ type: 'reject' }],
    transports: { docker: { [scope]: [{ type: 'insecureAcceptAnything' }] } },
  })

describe('dockerScopeProblem', () => {
  it('accepts every scope containers/image tries for a reference', () => {
    const component = fc.stringMatching(/^[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4})?$/)
    const host = fc.constantFrom(
      'quay.io',
      'a.b.example.com:5000',
      'localhost:5000',
      'docker.io',
      '127.0.0.1:5055',
      '',
    )
    const reference = fc
      .tuple(
        host,
        fc.array(component, { minLength: 1, maxLength: 3 }),
        fc.constantFrom('', ':v1', `@${D}`),
      )
      .map(([h, path, suffix]) => `${h === '' ? '' : `${h}/`}${path.join('/')}${suffix}`)
    fc.assert(
      fc.property(reference, (text) => {
        for (const { scope } of dockerScopeCandidates(parseDockerImageReference(text)))
          expect(dockerScopeProblem(scope), `${text}: ${scope}`).toBeUndefined()
      }),
    )
  })

  it.each([
    ['busybox', 'registry host'],
    ['library/busybox', 'registry host'],
    ['registry/app', 'registry host'],
    ['index.docker.io/library/busybox', 'registry host'],
    ['https://quay.io/org', 'registry host'],
    ['docker.io/busybox:latest', 'docker.io/library/busybox:latest'],
    ['docker.io/library/BusyBox', 'not an image reference'],
    ['quay.io/org/', 'not an image reference'],
    ['quay.io//org', 'not an image reference'],
    [`quay.io/org/app:v1@${D}`, 'both a tag and a digest'],
    ['*.example.com:5000', 'wildcard'],
    ['*.example.com/team', 'wildcard'],
    ['*.', 'wildcard'],
  ])('refuses %s, which no image matches', (scope, why) => {
    expect(dockerScopeProblem(scope)?.why).toContain(why)
    expect(codeOf(() => parseImagePolicy(policyWith(scope)))).toBe('ERR_IMAGE_POLICY_SCOPE')
  })

  it('keeps docker.io/NAME as the namespace it matches, and hosts with a dot, port or localhost', () => {
    for (const scope of [
      'docker.io/bitnami',
      'docker.io',
      'localhost',
      'registry.local',
      '[::1]:5000',
    ])
      expect(dockerScopeProblem(scope), scope).toBeUndefined()
  })
})
