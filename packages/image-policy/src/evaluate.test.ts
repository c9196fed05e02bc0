import { describe, it, expect } from 'vitest'
import { parseDockerImageReference } from './docker-reference.ts'
import { decideUnsignedRequirements } from './evaluate.ts'
import { parseImagePolicy } from './policy.ts'

const policy = parseImagePolicy(
  JSON.stringify({
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        'docker.io': [{ type: 'insecureAcceptAnything' }],
        'quay.io/org': [
          { type: 'insecureAcceptAnything' },
          { type: 'signedBy', keyType: 'GPGKeys', keyPath: '/vendor.gpg' },
          {
            type: 'sigstoreSigned',
            keyPath: '/c.pub',
            signedIdentity: { type: 'matchRepository' },
          },
        ],
        'quay.io/mixed': [
          { type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k' },
          { type: 'reject' },
        ],
        'quay.io/x509': [{ type: 'signedBy', keyType: 'X509Certificates', keyPath: '/k' }],
      },
    },
  }),
)
const decide = (image: string) =>
  decideUnsignedRequirements(policy, parseDockerImageReference(image))

describe('decideUnsignedRequirements', () => {
  it('accepts when every requirement is insecureAcceptAnything', () => {
    const d = decide('busybox')
    expect(d.outcome).toBe('accept')
    expect(d.scope).toMatchObject({ kind: 'host', scope: 'docker.io' })
    expect(d.requirements).toEqual([
      expect.objectContaining({
        index: 0,
        outcome: 'accept',
        field: 'transports.docker["docker.io"][0]',
      }),
    ])
  })

  it('reports signature requirements as needing verification, never as accepted', () => {
    const d = decide('quay.io/org/app:v1')
    expect(d.outcome).toBe('needsSignatureVerification')
    expect(d.scope).toMatchObject({ kind: 'namespace', scope: 'quay.io/org' })
    expect(d.requirements.map((r) => r.outcome)).toEqual([
      'accept',
      'needsSignatureVerification',
      'needsSignatureVerification',
    ])
    expect(d.requirements[1]?.signedIdentity).toEqual({ type: 'matchRepoDigestOrExact' })
    expect(d.requirements[2]?.signedIdentity).toEqual({ type: 'matchRepository' })
  })

  it('rejects when any requirement rejects (AND), and for unimplemented keyTypes', () => {
    expect(decide('quay.io/mixed:v1').outcome).toBe('reject')
    const x = decide('quay.io/x509/app')
    expect(x.outcome).toBe('reject')
    expect(x.requirements[0]?.reason).toMatch(/does not implement/)
  })

  it('uses the global default when nothing matches', () => {
    const d = decide('ghcr.io/someone/app')
    expect(d.outcome).toBe('reject')
    expect(d.scope).toMatchObject({ kind: 'default', field: 'default' })
    expect(d.requirements[0]?.field).toBe('default[0]')
  })
})
