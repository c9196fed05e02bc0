import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { isInitguardError, type InitguardError } from '@initguard/core'
import { parseImagePolicy } from './policy.ts'

function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

const KEY = Buffer.from('not really a key').toString('base64')
const wrap = (req: unknown): string =>
  JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { 'quay.io': [req] } } })
const F = 'transports.docker["quay.io"][0]'
const PKI = { caRootsPath: '/roots.pem', subjectEmail: 'a@b' }

describe('parseImagePolicy', () => {
  it('parses every requirement and identity type', () => {
    const policy = parseImagePolicy(
      new TextEncoder().encode(
        JSON.stringify({
          default: [{ type: 'insecureAcceptAnything' }],
          transports: {
            docker: {
              '': [{ type: 'reject' }],
              'quay.io/a': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k.gpg' }],
              'quay.io/b': [
                {
                  type: 'signedBy',
                  keyType: 'GPGKeys',
                  keyData: KEY,
                  signedIdentity: {
                    type: 'remapIdentity',
                    prefix: 'quay.io/b',
                    signedPrefix: 'docker.io/b',
                  },
                },
              ],
              'quay.io/c': [
                {
                  type: 'sigstoreSigned',
                  keyDatas: [KEY, KEY],
                  signedIdentity: { type: 'matchRepository' },
                },
                {
                  type: 'sigstoreSigned',
                  fulcio: { caData: KEY, oidcIssuer: 'https://issuer', subjectEmail: 'a@b' },
                  rekorPublicKeyPaths: ['/r1', '/r2'],
                  signedIdentity: { type: 'exactReference', dockerReference: 'quay.io/c:v1' },
                },
              ],
              'quay.io/d': [
                {
                  type: 'sigstoreSigned',
                  keyPaths: ['/c.pub'],
                  signedIdentity: { type: 'exactRepository', dockerRepository: 'quay.io/d' },
                },
              ],
            },
            dir: { '/var/images': [{ type: 'reject' }] },
            'containers-storage': { 'weird scope': [{ type: 'reject' }] },
          },
        }),
      ),
    )
    expect(policy.default).toEqual([{ type: 'insecureAcceptAnything' }])
    const docker = policy.transports.get('docker')
    expect([...(docker?.keys() ?? [])]).toEqual([
      '',
      'quay.io/a',
      'quay.io/b',
      'quay.io/c',
      'quay.io/d',
    ])
    expect(docker?.get('quay.io/a')?.[0]).toEqual({
      type: 'signedBy',
      keyType: 'GPGKeys',
      keySource: { kind: 'keyPath', path: '/k.gpg' },
      signedIdentity: { type: 'matchRepoDigestOrExact' },
      signedIdentityGiven: false,
    })
    const b = docker?.get('quay.io/b')?.[0]
    expect(
      b?.type === 'signedBy' &&
        b.keySource.kind === 'keyData' &&
        Buffer.from(b.keySource.data).toString(),
    ).toBe('not really a key')
    const c = docker?.get('quay.io/c')?.[1]
    expect(c).toMatchObject({
      type: 'sigstoreSigned',
      keySource: { kind: 'fulcio', oidcIssuer: 'https://issuer', subjectEmail: 'a@b' },
      rekorPublicKeys: { kind: 'keyPaths', paths: ['/r1', '/r2'] },
      signedIdentityGiven: true,
    })
    expect(policy.transports.get('containers-storage')?.has('weird scope')).toBe(true)
  })

  it.each([
    ['', 'ERR_IMAGE_POLICY_EMPTY', ''],
    ['[]', 'ERR_IMAGE_POLICY_TYPE', undefined],
    ['{"default":[{"type":"reject"}]', 'ERR_IMAGE_POLICY_JSON', undefined],
    ['{"default":[{"type":"reject"}]} x', 'ERR_IMAGE_POLICY_JSON', undefined],
    ['{}', 'ERR_IMAGE_POLICY_MISSING_FIELD', 'policy.default'],
    ['{"default":[]}', 'ERR_IMAGE_POLICY_EMPTY_REQUIREMENTS', 'default'],
    ['{"default":{}}', 'ERR_IMAGE_POLICY_TYPE', 'default'],
    ['{"default":[{"type":"reject"}],"bogus":1}', 'ERR_IMAGE_POLICY_UNKNOWN_FIELD', 'policy.bogus'],
    [
      '{"default":[{"type":"reject"}],"default":[{"type":"reject"}]}',
      'ERR_IMAGE_POLICY_DUPLICATE_KEY',
      'default',
    ],
    [
      '{"default":[{"type":"reject"}],"transports":{"docker":{"a":[{"type":"reject"}],"a":[{"type":"reject"}]}}}',
      'ERR_IMAGE_POLICY_DUPLICATE_KEY',
      'transports.docker.a',
    ],
    [
      '{"default":[{"type":"reject","type":"reject"}]}',
      'ERR_IMAGE_POLICY_DUPLICATE_KEY',
      'default[0].type',
    ],
    ['{"default":[{"type":"reject","x":1}]}', 'ERR_IMAGE_POLICY_UNKNOWN_FIELD', 'default[0].x'],
    // containers/image ignores a transport it does not know; its scopes then never apply and
    // images fall to "default" (here: accept), so a misspelt name is refused.
    [
      '{"default":[{"type":"insecureAcceptAnything"}],"transports":{"Docker":{"quay.io/org":[{"type":"reject"}]}}}',
      'ERR_IMAGE_POLICY_TRANSPORT',
      'transports.Docker',
    ],
    [
      '{"default":[{"type":"insecureAcceptAnything"}],"transports":{"dokcer":{"":[{"type":"reject"}]}}}',
      'ERR_IMAGE_POLICY_TRANSPORT',
      'transports.dokcer',
    ],
    ['{"default":[{"type":"accept"}]}', 'ERR_IMAGE_POLICY_REQUIREMENT_TYPE', 'default[0].type'],
    ['{"default":[{}]}', 'ERR_IMAGE_POLICY_MISSING_FIELD', 'default[0].type'],
    ['{"default":[{"type":1}]}', 'ERR_IMAGE_POLICY_TYPE', 'default[0].type'],
    [
      '{"default":[{"type":"reject"}],"transports":{"docker":{"example.com/x":[]}}}',
      'ERR_IMAGE_POLICY_EMPTY_REQUIREMENTS',
      'transports.docker["example.com/x"]',
    ],
    [
      '{"default":[{"type":"reject"}],"transports":{"dir":{"/":[{"type":"reject"}]}}}',
      'ERR_IMAGE_POLICY_SCOPE',
      'transports.dir["/"]',
    ],
    [
      '{"default":[{"type":"reject"}],"transports":{"oci":{"rel/p":[{"type":"reject"}]}}}',
      'ERR_IMAGE_POLICY_SCOPE',
      'transports.oci["rel/p"]',
    ],
    [
      '{"default":[{"type":"reject"}],"transports":{"dir":{"/a/../b":[{"type":"reject"}]}}}',
      'ERR_IMAGE_POLICY_SCOPE',
      'transports.dir["/a/../b"]',
    ],
    [wrap({ type: 'signedBy', keyPath: '/k' }), 'ERR_IMAGE_POLICY_MISSING_FIELD', `${F}.keyType`],
    [
      wrap({ type: 'signedBy', keyType: 'PGP', keyPath: '/k' }),
      'ERR_IMAGE_POLICY_KEY_TYPE',
      `${F}.keyType`,
    ],
    [wrap({ type: 'signedBy', keyType: 'GPGKeys' }), 'ERR_IMAGE_POLICY_KEY_SOURCE', F],
    [
      wrap({ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k', keyData: KEY }),
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${F}.keyData`,
    ],
    [
      wrap({ type: 'signedBy', keyType: 'GPGKeys', keyDatas: [KEY] }),
      'ERR_IMAGE_POLICY_UNKNOWN_FIELD',
      `${F}.keyDatas`,
    ],
    [
      wrap({ type: 'signedBy', keyType: 'GPGKeys', keyPath: '' }),
      'ERR_IMAGE_POLICY_EMPTY_VALUE',
      `${F}.keyPath`,
    ],
    [
      wrap({ type: 'signedBy', keyType: 'GPGKeys', keyPaths: [] }),
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${F}.keyPaths`,
    ],
    [
      wrap({ type: 'signedBy', keyType: 'GPGKeys', keyData: 'no base64!' }),
      'ERR_IMAGE_POLICY_KEY_DATA',
      `${F}.keyData`,
    ],
    [wrap({ type: 'sigstoreSigned' }), 'ERR_IMAGE_POLICY_KEY_SOURCE', F],
    [
      wrap({ type: 'sigstoreSigned', keyPath: '/k', keyDatas: [KEY] }),
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${F}.keyDatas`,
    ],
    [
      wrap({
        type: 'sigstoreSigned',
        keyPath: '/k',
        fulcio: { caPath: '/ca', oidcIssuer: 'i', subjectEmail: 'e' },
      }),
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${F}.fulcio`,
    ],
    [
      wrap({
        type: 'sigstoreSigned',
        fulcio: { caPath: '/ca', oidcIssuer: 'i', subjectEmail: 'e' },
      }),
      'ERR_IMAGE_POLICY_REKOR',
      F,
    ],
    [
      wrap({
        type: 'sigstoreSigned',
        keyPath: '/k',
        rekorPublicKeyPath: '/r',
        rekorPublicKeyData: KEY,
      }),
      'ERR_IMAGE_POLICY_REKOR',
      `${F}.rekorPublicKeyData`,
    ],
    [
      wrap({
        type: 'sigstoreSigned',
        fulcio: { caPath: '/ca', caData: KEY, oidcIssuer: 'i', subjectEmail: 'e' },
        rekorPublicKeyPath: '/r',
      }),
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${F}.fulcio`,
    ],
    [
      wrap({
        type: 'sigstoreSigned',
        fulcio: { caPath: '/ca', subjectEmail: 'e' },
        rekorPublicKeyPath: '/r',
      }),
      'ERR_IMAGE_POLICY_MISSING_FIELD',
      `${F}.fulcio.oidcIssuer`,
    ],
    [
      wrap({ type: 'sigstoreSigned', keyPath: '/k', pki: PKI }),
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${F}.pki`,
    ],
    [
      wrap({
        type: 'sigstoreSigned',
        fulcio: { caPath: '/ca', oidcIssuer: 'i', subjectEmail: 'e' },
        pki: PKI,
        rekorPublicKeyPath: '/r',
      }),
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${F}.pki`,
    ],
    [wrap({ type: 'sigstoreSigned', pki: {} }), 'ERR_IMAGE_POLICY_KEY_SOURCE', `${F}.pki`],
    [wrap({ type: 'sigstoreSigned', pki: [] }), 'ERR_IMAGE_POLICY_TYPE', `${F}.pki`],
    [
      wrap({ type: 'sigstoreSigned', pki: { ...PKI, caRootsData: KEY } }),
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${F}.pki.caRootsData`,
    ],
    [
      wrap({
        type: 'sigstoreSigned',
        pki: { ...PKI, caIntermediatesPath: '/i', caIntermediatesData: KEY },
      }),
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${F}.pki.caIntermediatesData`,
    ],
    [
      wrap({ type: 'sigstoreSigned', pki: { caRootsPath: '/roots' } }),
      'ERR_IMAGE_POLICY_PKI_SUBJECT',
      `${F}.pki`,
    ],
    [
      wrap({ type: 'sigstoreSigned', pki: { caRootsPath: '/roots', subjectEmail: '' } }),
      'ERR_IMAGE_POLICY_EMPTY_VALUE',
      `${F}.pki.subjectEmail`,
    ],
    [
      wrap({ type: 'sigstoreSigned', pki: { caRootsPath: '/roots', subjectHostname: 7 } }),
      'ERR_IMAGE_POLICY_TYPE',
      `${F}.pki.subjectHostname`,
    ],
    [
      wrap({ type: 'sigstoreSigned', pki: { ...PKI, caRootsPath: '' } }),
      'ERR_IMAGE_POLICY_EMPTY_VALUE',
      `${F}.pki.caRootsPath`,
    ],
    [
      wrap({ type: 'sigstoreSigned', pki: { caRootsData: 'not base64!', subjectEmail: 'e' } }),
      'ERR_IMAGE_POLICY_KEY_DATA',
      `${F}.pki.caRootsData`,
    ],
    [
      wrap({ type: 'sigstoreSigned', pki: { ...PKI, oidcIssuer: 'i' } }),
      'ERR_IMAGE_POLICY_UNKNOWN_FIELD',
      `${F}.pki.oidcIssuer`,
    ],
    [
      wrap({ type: 'sigstoreSigned', pki: PKI, rekorPublicKeyPath: '/r' }),
      'ERR_IMAGE_POLICY_REKOR',
      F,
    ],
    [
      wrap({ type: 'sigstoreSigned', keyPath: '/k', signedIdentity: { type: 'matchAnything' } }),
      'ERR_IMAGE_POLICY_IDENTITY_TYPE',
      `${F}.signedIdentity.type`,
    ],
    [
      wrap({ type: 'sigstoreSigned', keyPath: '/k', signedIdentity: { type: 'matchExact', x: 1 } }),
      'ERR_IMAGE_POLICY_UNKNOWN_FIELD',
      `${F}.signedIdentity.x`,
    ],
    [
      wrap({
        type: 'sigstoreSigned',
        keyPath: '/k',
        signedIdentity: { type: 'exactReference', dockerReference: 'quay.io/a' },
      }),
      'ERR_IMAGE_POLICY_IDENTITY_VALUE',
      `${F}.signedIdentity.dockerReference`,
    ],
    [
      wrap({
        type: 'sigstoreSigned',
        keyPath: '/k',
        signedIdentity: { type: 'exactRepository', dockerRepository: 'Quay.io/A' },
      }),
      'ERR_IMAGE_POLICY_IDENTITY_VALUE',
      `${F}.signedIdentity.dockerRepository`,
    ],
    [
      wrap({ type: 'sigstoreSigned', keyPath: '/k', signedIdentity: { type: 'exactRepository' } }),
      'ERR_IMAGE_POLICY_MISSING_FIELD',
      `${F}.signedIdentity.dockerRepository`,
    ],
    [
      wrap({
        type: 'signedBy',
        keyType: 'GPGKeys',
        keyPath: '/k',
        signedIdentity: { type: 'remapIdentity', prefix: 'quay.io/a', signedPrefix: 'x y' },
      }),
      'ERR_IMAGE_POLICY_IDENTITY_VALUE',
      `${F}.signedIdentity.signedPrefix`,
    ],
    [
      wrap({ type: 'signedBy', keyType: 'GPGKeys', keyPath: null }),
      'ERR_IMAGE_POLICY_TYPE',
      `${F}.keyPath`,
    ],
  ])('%s → %s', (text, code, field) => {
    const error = thrown(() => parseImagePolicy(text))
    expect(error.code).toBe(code)
    expect(error.category).toBe('malformed')
    if (field !== undefined) expect(error.details['field']).toBe(field)
  })

  it('refuses invalid UTF-8 with a coded error', () => {
    expect(thrown(() => parseImagePolicy(Uint8Array.of(0x7b, 0xff, 0x7d))).code).toBe(
      'ERR_UTF8_INVALID',
    )
  })

  it('parses the pki key source (containers/image 5.35); image-rs does not know it', () => {
    const text = wrap({
      type: 'sigstoreSigned',
      pki: {
        caRootsData: KEY,
        caIntermediatesPath: '/intermediates.pem',
        subjectEmail: 'a@b',
        subjectHostname: 'signer.example.com',
      },
    })
    const requirement = parseImagePolicy(text).transports.get('docker')?.get('quay.io')?.[0]
    expect(requirement).toMatchObject({
      type: 'sigstoreSigned',
      keySource: {
        kind: 'pki',
        caRoots: { kind: 'data', data: new Uint8Array(Buffer.from('not really a key')) },
        caIntermediates: { kind: 'path', path: '/intermediates.pem' },
        subjectEmail: 'a@b',
        subjectHostname: 'signer.example.com',
      },
      rekorPublicKeys: undefined,
    })
    const hostOnly = wrap({
      type: 'sigstoreSigned',
      pki: { caRootsPath: '/r', subjectHostname: 'h' },
    })
    expect(parseImagePolicy(hostOnly).transports.get('docker')?.get('quay.io')?.[0]).toMatchObject({
      keySource: { kind: 'pki', caIntermediates: undefined, subjectEmail: undefined },
    })
    const imageRs = thrown(() =>
      parseImagePolicy(
        JSON.stringify({ default: [{ type: 'sigstoreSigned', pki: PKI }], transports: {} }),
        { dialect: 'image-rs' },
      ),
    )
    expect(imageRs.code).toBe('ERR_IMAGE_POLICY_UNKNOWN_FIELD')
    expect(imageRs.details['field']).toBe('default[0].pki')
  })

  it('accepts the keyTypes c/image parses but does not implement', () => {
    expect(() =>
      parseImagePolicy(wrap({ type: 'signedBy', keyType: 'X509Certificates', keyPath: '/k' })),
    ).not.toThrow()
  })

  it('agrees with JSON.parse on valid JSON without duplicates, and refuses deep nesting', () => {
    expect(thrown(() => parseImagePolicy('['.repeat(100000))).code).toBe(
      'ERR_IMAGE_POLICY_TOO_DEEP',
    )
    expect(parseImagePolicy(' {"default" : [ {"type":"\\u0072eject"} ] }\n').default).toEqual([
      { type: 'reject' },
    ])
  })

  it('throws only InitguardErrors on arbitrary input', () => {
    const fragment = fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"default"',
      '"transports"',
      '"docker"',
      '"type"',
      '"reject"',
      '"signedBy"',
      '"keyType"',
      '"GPGKeys"',
      '"keyPath"',
      '"/k"',
      '"signedIdentity"',
      '"remapIdentity"',
      '"prefix"',
      '"quay.io"',
      '"sigstoreSigned"',
      '"fulcio"',
      '"pki"',
      '"caRootsPath"',
      '"subjectEmail"',
      '1',
      'null',
      'true',
      '"\\u00',
      '"',
    )
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.array(fragment, { maxLength: 30 }).map((p) => p.join('')),
        ),
        (text) => {
          try {
            parseImagePolicy(text)
          } catch (e) {
            if (!isInitguardError(e)) throw e
          }
        },
      ),
      { numRuns: 3000 },
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          parseImagePolicy(bytes)
        } catch (e) {
          if (!isInitguardError(e)) throw e
        }
      }),
    )
  })
})
