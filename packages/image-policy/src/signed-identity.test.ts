import { describe, it, expect } from 'vitest'
import { parseDockerImageReference, parseDockerReference } from './docker-reference.ts'
import type { SignedIdentity } from './policy.ts'
import { matchesSignedIdentity } from './signed-identity.ts'

const D1 = 'sha256:' + '1'.repeat(64)
const D2 = 'sha256:' + '2'.repeat(64)
const exact: SignedIdentity = { type: 'matchExact' }
const repoDigest: SignedIdentity = { type: 'matchRepoDigestOrExact' }
const repo: SignedIdentity = { type: 'matchRepository' }
const exactRef: SignedIdentity = { type: 'exactReference', dockerReference: 'quay.io/org/app:v1' }
const exactRepo: SignedIdentity = { type: 'exactRepository', dockerRepository: 'quay.io/org/app' }
const remap: SignedIdentity = {
  type: 'remapIdentity',
  prefix: 'mirror.local/org',
  signedPrefix: 'quay.io/org',
}

// rule, image, signature identity, expected
const matrix: [string, SignedIdentity, string, string, boolean][] = [
  ['exact: same tag', exact, 'quay.io/org/app:v1', 'quay.io/org/app:v1', true],
  ['exact: other tag', exact, 'quay.io/org/app:v1', 'quay.io/org/app:v2', false],
  ['exact: name-only claim', exact, 'quay.io/org/app:v1', 'quay.io/org/app', false],
  ['exact: digest image vs tag claim', exact, `quay.io/org/app@${D1}`, 'quay.io/org/app:v1', false],
  ['exact: same digest', exact, `quay.io/org/app@${D1}`, `quay.io/org/app@${D1}`, true],
  ['exact: normalised claim', exact, 'busybox', 'busybox:latest', true],
  ['repoDigest: same tag', repoDigest, 'quay.io/org/app:v1', 'quay.io/org/app:v1', true],
  ['repoDigest: other tag', repoDigest, 'quay.io/org/app:v1', 'quay.io/org/app:v2', false],
  [
    'repoDigest: digest image, tag claim same repo',
    repoDigest,
    `quay.io/org/app@${D1}`,
    'quay.io/org/app:v9',
    true,
  ],
  [
    'repoDigest: digest image, other digest claim',
    repoDigest,
    `quay.io/org/app@${D1}`,
    `quay.io/org/app@${D2}`,
    true,
  ],
  [
    'repoDigest: digest image, name-only claim',
    repoDigest,
    `quay.io/org/app@${D1}`,
    'quay.io/org/app',
    false,
  ],
  [
    'repoDigest: digest image, other repo',
    repoDigest,
    `quay.io/org/app@${D1}`,
    'quay.io/org/other:v1',
    false,
  ],
  [
    'repoDigest: tag image, tag+digest claim',
    repoDigest,
    'quay.io/org/app:v1',
    `quay.io/org/app:v1@${D1}`,
    false,
  ],
  ['repository: other tag', repo, 'quay.io/org/app:v1', 'quay.io/org/app:v2', true],
  ['repository: name-only claim (cosign)', repo, 'quay.io/org/app:v1', 'quay.io/org/app', true],
  ['repository: other repo', repo, 'quay.io/org/app:v1', 'quay.io/org/app2', false],
  ['repository: docker.io normalisation', repo, 'docker.io/library/busybox:1', 'busybox', true],
  ['exactReference: equal', exactRef, 'other.io/x:y', 'quay.io/org/app:v1', true],
  ['exactReference: other tag', exactRef, 'quay.io/org/app:v1', 'quay.io/org/app:v2', false],
  ['exactReference: name-only claim', exactRef, 'quay.io/org/app:v1', 'quay.io/org/app', false],
  ['exactRepository: any tag', exactRepo, 'other.io/x:y', 'quay.io/org/app:v7', true],
  ['exactRepository: name-only claim', exactRepo, 'other.io/x:y', 'quay.io/org/app', true],
  ['exactRepository: other repo', exactRepo, 'quay.io/org/app:v1', 'quay.io/org/app2:v1', false],
  ['remap: remapped tag', remap, 'mirror.local/org/app:v1', 'quay.io/org/app:v1', true],
  ['remap: remapped, other tag', remap, 'mirror.local/org/app:v1', 'quay.io/org/app:v2', false],
  ['remap: exact prefix name', remap, 'mirror.local/org:v1', 'quay.io/org:v1', true],
  [
    'remap: prefix is not a path boundary',
    remap,
    'mirror.local/organisation/app:v1',
    'quay.io/organisation/app:v1',
    false,
  ],
  [
    'remap: not matching prefix keeps the image',
    remap,
    'other.io/org/app:v1',
    'other.io/org/app:v1',
    true,
  ],
  [
    'remap: unremapped claim refused',
    remap,
    'mirror.local/org/app:v1',
    'mirror.local/org/app:v1',
    false,
  ],
  ['remap: digest image', remap, `mirror.local/org/app@${D1}`, 'quay.io/org/app:v3', true],
  ['unparsable claim', repo, 'quay.io/org/app:v1', 'Quay.io/ORG/app', false],
]

describe('matchesSignedIdentity matrix', () => {
  it.each(matrix)('%s', (_name, rule, image, claim, expected) => {
    expect(matchesSignedIdentity(rule, parseDockerImageReference(image), claim)).toBe(expected)
  })

  it('images without a Docker identity match only exactReference/exactRepository', () => {
    expect(matchesSignedIdentity(exact, undefined, 'quay.io/org/app:v1')).toBe(false)
    expect(matchesSignedIdentity(repoDigest, undefined, 'quay.io/org/app:v1')).toBe(false)
    expect(matchesSignedIdentity(repo, undefined, 'quay.io/org/app:v1')).toBe(false)
    expect(matchesSignedIdentity(remap, undefined, 'quay.io/org/app:v1')).toBe(false)
    expect(matchesSignedIdentity(exactRef, undefined, 'quay.io/org/app:v1')).toBe(true)
    expect(matchesSignedIdentity(exactRepo, undefined, 'quay.io/org/app:v1')).toBe(true)
  })

  it('a name-only intended image matches nothing under matchExact/matchRepoDigestOrExact', () => {
    const nameOnly = parseDockerReference('quay.io/org/app')
    expect(matchesSignedIdentity(exact, nameOnly, 'quay.io/org/app:latest')).toBe(false)
    expect(matchesSignedIdentity(repoDigest, nameOnly, 'quay.io/org/app:latest')).toBe(false)
  })
})
