import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { redactUrl } from './redact-url.ts'

describe('redactUrl', () => {
  it('replaces the password as Go’s URL.Redacted does, and credential-like query values', () => {
    expect(redactUrl(new URL('https://u:secret@h/p'))).toBe('https://u:xxxxx@h/p')
    expect(redactUrl(new URL('https://h/p'))).toBe('https://h/p')
    // A user name alone is the credential (a token sent as basic authentication).
    expect(redactUrl('https://ghp_t0ken@registry.example/v2/')).toBe(
      'https://xxxxx@registry.example/v2/',
    )
    expect(
      redactUrl('https://s3.example/b/k?X-Amz-Signature=s&X-Amz-Credential=c&part=2#frag'),
    ).toBe('https://s3.example/b/k?X-Amz-Signature=xxxxx&X-Amz-Credential=xxxxx&part=2')
    expect(redactUrl('https://h/upload?_state=opaque&digest=sha256%3Aab')).toBe(
      'https://h/upload?_state=xxxxx&digest=sha256%3Aab',
    )
  })

  it('drops user info, query and fragment on request', () => {
    expect(redactUrl('https://u:p@s3.example/b/k?X-Amz-Signature=s', { query: 'drop' })).toBe(
      'https://s3.example/b/k',
    )
  })

  it('never echoes what is not a URL', () => {
    expect(redactUrl('not a url')).toBe('(not a valid URL)')
    expect(redactUrl('user:pass@ not a url')).not.toContain('pass')
    expect(redactUrl('file:///etc/containers/sigstore')).toBe('file:///etc/containers/sigstore')
  })

  it('never shows a password, whatever it is (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 6, maxLength: 20 }).filter((p) => /^[A-Za-z0-9]+$/.test(p)),
        (password) => {
          const url = new URL(
            `https://user:${password}@example.test/p?token=${password}&sig=${password}`,
          )
          expect(redactUrl(url)).not.toContain(password)
          expect(redactUrl(url, { query: 'drop' })).not.toContain(password)
          expect(redactUrl(new URL(`https://${password}@example.test/p`))).not.toContain(password)
        },
      ),
    )
  })
})
