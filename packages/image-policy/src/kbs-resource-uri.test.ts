import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { thrown } from '@initguard/testkit'
import { cdhImageSources } from './cdh-image-policy.ts'
import { kbsResourcePath } from './kbs-resource-uri.ts'

describe('kbs:///repo/type/tag', () => {
  it('gives repo/type/tag', () => {
    expect(kbsResourcePath('kbs:///default/security-policy/test', 'x')).toBe(
      'default/security-policy/test',
    )
  })

  it.each([
    ['kbs://kbs.example/default/a/b', /names a host/],
    ['kbs+pkcs11:///a/b/c', /not a kbs:\/\//],
    ['kbs:///a/b', /not kbs:\/\/\/REPO/],
    ['kbs:///a/b/c/d', /not kbs:\/\/\/REPO/],
    ['kbs:///a/../c', /not kbs:\/\/\/REPO/],
    ['kbs:///a/b/c?x=1', /query/],
    ['kbs:///a/b/%2e', /escape/],
  ])('refuses %s', (uri, why) => {
    const error = thrown(() => kbsResourcePath(uri, 'cdh.toml image.image_security_policy_uri'))
    expect(error.code).toBe('ERR_KBS_RESOURCE_URI')
    expect(error.message).toMatch(why)
  })

  it('any text is either three safe segments or refused with the code', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (tail) => {
        try {
          const path = kbsResourcePath(`kbs:///${tail}`, 'x')
          expect(path.split('/')).toHaveLength(3)
          expect(path).not.toMatch(/(^|\/)\./)
        } catch (error) {
          expect(isInitguardError(error) && error.code).toBe('ERR_KBS_RESOURCE_URI')
        }
      }),
    )
  })
})

describe('cdhImageSources for the guest agent (kbs: true)', () => {
  const toml = `[image]\nimage_security_policy_uri = "kbs:///default/policy/image"\nsigstore_config_uri = "kbs:///default/policy/sigstore"\n`

  it('returns kbs sources instead of refusing them', () => {
    const sources = cdhImageSources(toml, { kbs: true })
    expect(sources.policy).toEqual({
      kind: 'kbs',
      field: 'image.image_security_policy_uri',
      uri: 'kbs:///default/policy/image',
      resourcePath: 'default/policy/image',
    })
    expect(sources.sigstoreConfig.kind).toBe('kbs')
  })

  it('still refuses them by default, and other plugins even for the agent', () => {
    expect(thrown(() => cdhImageSources(toml)).code).toBe('ERR_CDH_POLICY_NEEDS_AGENT')
    const plugin = '[image]\nimage_security_policy_uri = "kbs+pkcs11:///a/b/c"\n'
    expect(thrown(() => cdhImageSources(plugin, { kbs: true })).code).toBe(
      'ERR_CDH_POLICY_NEEDS_AGENT',
    )
    const hosted = '[image]\nimage_security_policy_uri = "kbs://kbs.example/a/b/c"\n'
    expect(thrown(() => cdhImageSources(hosted, { kbs: true })).code).toBe('ERR_KBS_RESOURCE_URI')
  })
})
