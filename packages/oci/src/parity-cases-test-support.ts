/**
 * The (policy, image reference) matrix of the skopeo parity suite. Images in the test registry:
 * `test/hello:v1` signed by A, `v2` unsigned, `v3` signed by B, `v4` signed by A and B, `v9` the
 * v1 manifest re-tagged (its lookaside signature names `test/hello:v1`), `mirror/hello:v1` the v1
 * manifest copied with its signature, `test/sub/deep:v1` signed by A, `multi/app:v1` an index
 * whose amd64 manifest is signed by A, `multi/app:v2` an index signed (as a list) by A. The
 * expected outcome is
 * what skopeo 1.9.3 decides; the suite checks skopeo still says so, then that we agree.
 *
 * @module
 */
import type { TestGpgKey } from './gpg-test-support.ts'

/** What a case can refer to. */
export interface ParityFixture {
  /** `127.0.0.1:PORT`. */
  readonly host: string
  readonly registriesD: string
  /** Path of a public keyring file: `a.gpg`, `b.gpg`, `ab.gpg`. */
  readonly keyPath: (name: string) => string
  readonly keyA: TestGpgKey
  readonly keyB: TestGpgKey
  /** Manifest digests by reference. */
  readonly digests: Map<string, string>
}

/** One case. */
export interface ParityCase {
  readonly name: string
  readonly policy: (f: ParityFixture) => unknown
  /** Reference without the registry host. */
  readonly reference: (f: ParityFixture) => string
  readonly expected: 'accept' | 'reject'
}

type Requirement = Record<string, unknown>

const accept: Requirement = { type: 'insecureAcceptAnything' }
const reject: Requirement = { type: 'reject' }
const signedBy = (path: string, signedIdentity?: Requirement): Requirement => ({
  type: 'signedBy',
  keyType: 'GPGKeys',
  keyPath: path,
  ...(signedIdentity === undefined ? {} : { signedIdentity }),
})

/** A policy whose `default` rejects and whose docker transport has the given scopes. */
function scoped(
  scopes: (f: ParityFixture) => Record<string, Requirement[]>,
  fallback: Requirement[] = [reject],
): (f: ParityFixture) => unknown {
  return (f) => ({ default: fallback, transports: { docker: scopes(f) } })
}

const repo = (f: ParityFixture, path = 'test/hello'): string => `${f.host}/${path}`

function one(
  name: string,
  reference: string | ((f: ParityFixture) => string),
  expected: 'accept' | 'reject',
  requirements: (f: ParityFixture) => Requirement[],
): ParityCase {
  return {
    name,
    policy: scoped((f) => ({
      [repo(f)]: requirements(f),
      [repo(f, 'test/sub/deep')]: requirements(f),
      [repo(f, 'mirror/hello')]: requirements(f),
    })),
    reference: typeof reference === 'string' ? () => reference : reference,
    expected,
  }
}

const byDigest = (f: ParityFixture): string => `test/hello@${f.digests.get('test/hello:v1') ?? ''}`

/** Every case, in a stable order. */
export function parityCases(): ParityCase[] {
  const a = (f: ParityFixture): string => f.keyPath('a.gpg')
  const b = (f: ParityFixture): string => f.keyPath('b.gpg')
  return [
    // Global default and transport default.
    {
      name: 'default reject',
      policy: () => ({ default: [reject] }),
      reference: () => 'test/hello:v1',
      expected: 'reject',
    },
    {
      name: 'default accept',
      policy: () => ({ default: [accept] }),
      reference: () => 'test/hello:v2',
      expected: 'accept',
    },
    {
      name: 'transport default signedBy A, signed image',
      policy: (f) => ({ default: [reject], transports: { docker: { '': [signedBy(a(f))] } } }),
      reference: () => 'test/hello:v1',
      expected: 'accept',
    },
    {
      name: 'transport default signedBy A, unsigned image',
      policy: (f) => ({ default: [reject], transports: { docker: { '': [signedBy(a(f))] } } }),
      reference: () => 'test/hello:v2',
      expected: 'reject',
    },
    {
      name: 'transport default wins over global default',
      policy: () => ({ default: [reject], transports: { docker: { '': [accept] } } }),
      reference: () => 'test/hello:v2',
      expected: 'accept',
    },
    // signedBy with the default identity (matchRepoDigestOrExact).
    one('signedBy A: v1 signed for itself', 'test/hello:v1', 'accept', (f) => [signedBy(a(f))]),
    one('signedBy A: v2 unsigned', 'test/hello:v2', 'reject', (f) => [signedBy(a(f))]),
    one('signedBy A: v9 re-tagged (signature names v1)', 'test/hello:v9', 'reject', (f) => [
      signedBy(a(f)),
    ]),
    one('signedBy A: v1 by digest', byDigest, 'accept', (f) => [signedBy(a(f))]),
    one('signedBy B: v1 signed by A only (wrong key)', 'test/hello:v1', 'reject', (f) => [
      signedBy(b(f)),
    ]),
    one('signedBy B: v3 signed by B', 'test/hello:v3', 'accept', (f) => [signedBy(b(f))]),
    one('signedBy keyring A+B: v3', 'test/hello:v3', 'accept', (f) => [
      signedBy(f.keyPath('ab.gpg')),
    ]),
    one('signedBy keyData A: v1', 'test/hello:v1', 'accept', (f) => [
      {
        type: 'signedBy',
        keyType: 'GPGKeys',
        keyData: Buffer.from(f.keyA.publicKeyring).toString('base64'),
      },
    ]),
    one('signedBy keyType signedByGPGKeys is unimplemented', 'test/hello:v1', 'reject', (f) => [
      { ...signedBy(a(f)), keyType: 'signedByGPGKeys' },
    ]),
    // AND of requirements.
    one('A and B: v4 signed by both', 'test/hello:v4', 'accept', (f) => [
      signedBy(a(f)),
      signedBy(b(f)),
    ]),
    one('A and B: v1 signed by A only', 'test/hello:v1', 'reject', (f) => [
      signedBy(a(f)),
      signedBy(b(f)),
    ]),
    one('A and accept-anything', 'test/hello:v1', 'accept', (f) => [signedBy(a(f)), accept]),
    one('A and reject', 'test/hello:v1', 'reject', (f) => [signedBy(a(f)), reject]),
    // signedIdentity types.
    one('matchExact: v1', 'test/hello:v1', 'accept', (f) => [
      signedBy(a(f), { type: 'matchExact' }),
    ]),
    one('matchExact: v1 by digest', byDigest, 'reject', (f) => [
      signedBy(a(f), { type: 'matchExact' }),
    ]),
    one('matchRepository: v9 re-tagged', 'test/hello:v9', 'accept', (f) => [
      signedBy(a(f), { type: 'matchRepository' }),
    ]),
    one('matchRepository: v2 unsigned', 'test/hello:v2', 'reject', (f) => [
      signedBy(a(f), { type: 'matchRepository' }),
    ]),
    one('matchRepository: mirror copy (other repository)', 'mirror/hello:v1', 'reject', (f) => [
      signedBy(a(f), { type: 'matchRepository' }),
    ]),
    one('exactReference to v1: v9', 'test/hello:v9', 'accept', (f) => [
      signedBy(a(f), { type: 'exactReference', dockerReference: `${repo(f)}:v1` }),
    ]),
    one('exactReference to v2: v1', 'test/hello:v1', 'reject', (f) => [
      signedBy(a(f), { type: 'exactReference', dockerReference: `${repo(f)}:v2` }),
    ]),
    one('exactRepository test/hello: mirror copy', 'mirror/hello:v1', 'accept', (f) => [
      signedBy(a(f), { type: 'exactRepository', dockerRepository: repo(f) }),
    ]),
    one('exactRepository other: v1', 'test/hello:v1', 'reject', (f) => [
      signedBy(a(f), { type: 'exactRepository', dockerRepository: repo(f, 'other/app') }),
    ]),
    one('remapIdentity mirror → test: mirror copy', 'mirror/hello:v1', 'accept', (f) => [
      signedBy(a(f), {
        type: 'remapIdentity',
        prefix: repo(f, 'mirror'),
        signedPrefix: repo(f, 'test'),
      }),
    ]),
    one('remapIdentity not applying: mirror copy', 'mirror/hello:v1', 'reject', (f) => [
      signedBy(a(f), {
        type: 'remapIdentity',
        prefix: repo(f, 'elsewhere'),
        signedPrefix: repo(f, 'test'),
      }),
    ]),
    one('default identity: mirror copy', 'mirror/hello:v1', 'reject', (f) => [signedBy(a(f))]),
    // Scope selection.
    {
      name: 'tag scope beats repository scope',
      policy: scoped((f) => ({ [`${repo(f)}:v2`]: [accept], [repo(f)]: [signedBy(a(f))] })),
      reference: () => 'test/hello:v2',
      expected: 'accept',
    },
    {
      name: 'repository scope for another tag',
      policy: scoped((f) => ({ [`${repo(f)}:v2`]: [accept], [repo(f)]: [signedBy(a(f))] })),
      reference: () => 'test/hello:v9',
      expected: 'reject',
    },
    {
      name: 'namespace scope covers a nested repository',
      policy: scoped((f) => ({ [repo(f, 'test')]: [signedBy(a(f))] })),
      reference: () => 'test/sub/deep:v1',
      expected: 'accept',
    },
    {
      name: 'nearest namespace wins',
      policy: scoped((f) => ({ [repo(f, 'test/sub')]: [reject], [repo(f, 'test')]: [accept] })),
      reference: () => 'test/sub/deep:v1',
      expected: 'reject',
    },
    {
      name: 'host scope',
      policy: scoped((f) => ({ [f.host]: [accept], [repo(f, 'test')]: [reject] })),
      reference: () => 'mirror/hello:v1',
      expected: 'accept',
    },
    {
      name: 'namespace beats host',
      policy: scoped((f) => ({ [f.host]: [accept], [repo(f, 'test')]: [reject] })),
      reference: () => 'test/hello:v1',
      expected: 'reject',
    },
    {
      name: 'wildcard on an IP address',
      policy: scoped(() => ({ '*.0.0.1': [reject], '': [accept] })),
      reference: () => 'test/hello:v1',
      expected: 'reject',
    },
    {
      name: 'repository beats wildcard',
      policy: scoped((f) => ({ '*.0.0.1': [reject], [repo(f)]: [accept] })),
      reference: () => 'test/hello:v1',
      expected: 'accept',
    },
    {
      name: 'more specific wildcard first',
      policy: scoped(() => ({ '*.0.0.1': [accept], '*.1': [reject] })),
      reference: () => 'test/hello:v2',
      expected: 'accept',
    },
    {
      name: 'host without port does not match',
      policy: scoped(() => ({ '127.0.0.1': [accept] })),
      reference: () => 'test/hello:v2',
      expected: 'reject',
    },
    {
      name: 'multi-arch: the platform manifest is signed',
      policy: scoped((f) => ({ [repo(f, 'multi/app')]: [signedBy(a(f))] })),
      reference: () => 'multi/app:v1',
      expected: 'accept',
    },
    {
      name: 'multi-arch: only the list is signed',
      policy: scoped((f) => ({ [repo(f, 'multi/app')]: [signedBy(a(f))] })),
      reference: () => 'multi/app:v2',
      expected: 'reject',
    },
    {
      name: 'digest identity scope',
      policy: scoped((f) => ({ [`${repo(f)}@${f.digests.get('test/hello:v1') ?? ''}`]: [accept] })),
      reference: byDigest,
      expected: 'accept',
    },
  ]
}
