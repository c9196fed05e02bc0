import { describe, it, expect } from 'vitest'
import { parseDockerImageReference } from './docker-reference.ts'
import { parseImagePolicy } from './policy.ts'
import { lookupDockerScope, lookupScope, type ScopeKind } from './scope.ts'

const D = 'sha256:' + 'b'.repeat(64)
const reject = [{ type: 'reject' }]
const policyWith = (scopes: readonly string[], transportDefault = true): string =>
  JSON.stringify({
    default: reject,
    transports: {
      docker: Object.fromEntries(
        [...scopes, ...(transportDefault ? [''] : [])].map((s): [string, unknown] => [s, reject]),
      ),
    },
  })

const ALL = [
  'a.b.example.com:5000/ns/app:v1',
  `a.b.example.com:5000/ns/app@${D}`,
  'a.b.example.com:5000/ns/app',
  'a.b.example.com:5000/ns',
  'a.b.example.com:5000',
  'a.b.example.com',
  '*.b.example.com',
  '*.example.com',
  '*.com',
  'docker.io/library/busybox:latest',
  'docker.io/library/busybox',
  'docker.io/library',
  'docker.io',
  '*.io',
  '127.0.0.1:5055/test/hello',
  '*.0.0.1',
  '*.1',
  'localhost:5000',
  'localhost',
  'quay.io/org',
  'quay.io',
  '*.quay.io',
]

// Each row: image, scopes present, expected kind, expected matching scope.
const cases: [string, readonly string[], ScopeKind, string | undefined][] = [
  ['a.b.example.com:5000/ns/app:v1', ALL, 'identity', 'a.b.example.com:5000/ns/app:v1'],
  [`a.b.example.com:5000/ns/app@${D}`, ALL, 'identity', `a.b.example.com:5000/ns/app@${D}`],
  ['a.b.example.com:5000/ns/app:v2', ALL, 'repository', 'a.b.example.com:5000/ns/app'],
  ['a.b.example.com:5000/ns/other:v1', ALL, 'namespace', 'a.b.example.com:5000/ns'],
  ['a.b.example.com:5000/zz/app:v1', ALL, 'host', 'a.b.example.com:5000'],
  ['a.b.example.com:5000/zz/app:v1', ALL.slice(5), 'wildcard', '*.b.example.com'],
  ['a.b.example.com/zz/app:v1', ALL, 'host', 'a.b.example.com'],
  ['c.b.example.com/zz/app:v1', ALL, 'wildcard', '*.b.example.com'],
  ['c.d.example.com/app', ALL, 'wildcard', '*.example.com'],
  ['registry.com/app', ALL, 'wildcard', '*.com'],
  ['a.b.example.com:5000/zz/app:v1', ['*.example.com', '*.com'], 'wildcard', '*.example.com'],
  ['a.b.example.com:5000/zz/app:v1', ['*.com'], 'wildcard', '*.com'],
  ['a.b.example.com:5000/zz/app:v1', ['a.b.example.com'], 'transportDefault', ''],
  ['busybox', ALL, 'identity', 'docker.io/library/busybox:latest'],
  ['busybox:1', ALL, 'repository', 'docker.io/library/busybox'],
  ['alpine', ALL, 'namespace', 'docker.io/library'],
  ['user/app', ALL, 'host', 'docker.io'],
  ['user/app', ['*.io'], 'wildcard', '*.io'],
  ['127.0.0.1:5055/test/hello:v1', ALL, 'repository', '127.0.0.1:5055/test/hello'],
  ['127.0.0.1:5055/test/other:v1', ALL, 'wildcard', '*.0.0.1'],
  ['10.0.0.1:5055/x', ['*.1'], 'wildcard', '*.1'],
  ['localhost:5000/app', ALL, 'host', 'localhost:5000'],
  ['localhost/app', ALL, 'host', 'localhost'],
  ['localhost:5001/app', ALL, 'transportDefault', ''],
  ['quay.io/org/app:v1', ALL, 'namespace', 'quay.io/org'],
  ['quay.io/other/app:v1', ALL, 'host', 'quay.io'],
  ['x.quay.io/app', ALL, 'wildcard', '*.quay.io'],
  ['quay.io/other/app', ['*.quay.io', '*.io'], 'wildcard', '*.io'],
  ['[::1]:5000/app', ['*.1', '[::1]'], 'transportDefault', ''],
  ['[::1]:5000/app', ['[::1]:5000'], 'host', '[::1]:5000'],
]

describe('lookupDockerScope order', () => {
  it.each(cases)('%s with %j → %s %s', (image, scopes, kind, scope) => {
    const match = lookupDockerScope(
      parseImagePolicy(policyWith(scopes)),
      parseDockerImageReference(image),
    )
    expect(match.kind).toBe(kind)
    expect(match.scope).toBe(scope)
  })

  it('falls back to the global default without a transport default or transport', () => {
    const ref = parseDockerImageReference('quay.io/org/app')
    const noDefault = lookupDockerScope(parseImagePolicy(policyWith(['quay.io/x'], false)), ref)
    expect(noDefault).toMatchObject({ kind: 'default', scope: undefined, field: 'default' })
    expect(noDefault.tried).toContain('')
    const none = lookupDockerScope(parseImagePolicy('{"default":[{"type":"reject"}]}'), ref)
    expect(none.kind).toBe('default')
  })

  it('does not look at other transports', () => {
    const policy = parseImagePolicy(
      JSON.stringify({ default: reject, transports: { oci: { '': reject } } }),
    )
    expect(lookupDockerScope(policy, parseDockerImageReference('busybox')).kind).toBe('default')
    expect(lookupScope(policy, 'oci', []).kind).toBe('transportDefault')
  })

  it('reports the JSON path and what was tried', () => {
    const match = lookupDockerScope(
      parseImagePolicy(policyWith(['quay.io'])),
      parseDockerImageReference('quay.io/org/app:v1'),
    )
    expect(match.field).toBe('transports.docker["quay.io"]')
    expect(match.tried).toEqual(['quay.io/org/app:v1', 'quay.io/org/app', 'quay.io/org'])
  })
})
