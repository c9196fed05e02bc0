import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mergeGpgKeyrings, parseGpgKeyring, type GpgKeyring } from './gpg-keyring.ts'
import { CLOCK_SKEW_SECONDS } from './clock-skew.ts'
import { verifySimpleSigning } from './simple-signing.ts'
import { NOW, PAYLOAD, TestGpg, thrown } from './simple-signing-test-support.ts'

const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))
const at = (iso: string): Date => new Date(iso)
const keyIdOf = (fingerprint: string): string => fingerprint.slice(-16)

let gpg: TestGpg
const fp: Record<'ed' | 'rsa3072' | 'rsa2048' | 'sub' | 'expiring' | 'weak' | 'other', string> = {
  ed: '',
  rsa3072: '',
  rsa2048: '',
  sub: '',
  expiring: '',
  weak: '',
  other: '',
}
let subkey: string
let keyring: GpgKeyring

beforeAll(async () => {
  gpg = new TestGpg()
  fp.ed = gpg.genKey('Ed <ed@example.com>', 'ed25519', 'sign')
  fp.rsa3072 = gpg.genKey('Rsa3072 <r3@example.com>', 'rsa3072', 'sign')
  fp.rsa2048 = gpg.genKey('Rsa2048 <r2@example.com>', 'rsa2048', 'sign')
  fp.sub = gpg.genKey('Sub <sub@example.com>', 'rsa2048', 'cert')
  subkey = gpg.addSubkey(fp.sub, 'ed25519', 'sign')
  // Made 2019-01-01, expires two years later.
  fp.expiring = gpg.genKey('Expiring <exp@example.com>', 'ed25519', 'sign', '2y')
  fp.weak = gpg.genKey('Weak <weak@example.com>', 'rsa1024', 'sign')
  fp.other = gpg.genKey('Other <other@example.com>', 'ed25519', 'sign')
  const trusted = [fp.ed, fp.rsa3072, fp.rsa2048, fp.sub, fp.expiring, fp.weak]
  keyring = await parseGpgKeyring(gpg.exportKeys(trusted), 'keyPath')
})
afterAll(() => {
  gpg.dispose()
})

describe('verifySimpleSigning: what gpg writes', () => {
  it.each([
    ['ed25519, compressed like skopeo (0xA3)', 'ed', [] as string[]],
    ['RSA-3072, uncompressed', 'rsa3072', ['--compress-algo', 'none']],
    ['RSA-2048, ZLIB', 'rsa2048', ['--compress-algo', 'zlib']],
    ['ed25519, BZIP2', 'ed', ['--compress-algo', 'bzip2']],
    ['RSA-3072, SHA-512', 'rsa3072', ['--digest-algo', 'SHA512']],
  ] as const)('accepts %s, as gpg --verify does', async (_, who, extra) => {
    const blob = gpg.sign(PAYLOAD, [fp[who]], extra)
    expect(gpg.verdict(blob, '20200102T000000')).toBe('GOODSIG')
    const result = await verifySimpleSigning(blob, keyring, NOW)
    expect(new TextDecoder().decode(result.payloadBytes)).toBe(PAYLOAD)
    expect(result.signerFingerprint).toBe(fp[who])
    expect(result.signingKeyFingerprint).toBe(fp[who])
    expect(result.signatureCreated).toEqual(at('2020-01-01T12:00:00Z'))
  })

  it('starts like a skopeo signature: an old-format indeterminate-length compressed packet', () => {
    expect(gpg.sign(PAYLOAD, [fp.ed]).subarray(0, 2)).toEqual(new Uint8Array([0xa3, 0x01]))
  })

  it('names the primary key as signer and the subkey as signing key', async () => {
    const result = await verifySimpleSigning(gpg.sign(PAYLOAD, [fp.sub]), keyring, NOW)
    expect(result.signerFingerprint).toBe(fp.sub)
    expect(result.signingKeyFingerprint).toBe(subkey)
  })

  it('accepts a signature by a key listed in any of several merged keyrings', async () => {
    const a = await parseGpgKeyring(gpg.exportKeys([fp.ed]), 'keyPaths[0]')
    const b = await parseGpgKeyring(gpg.exportKeys([fp.rsa2048], true), 'keyPaths[1]')
    const blob = gpg.sign(PAYLOAD, [fp.rsa2048])
    const result = await verifySimpleSigning(blob, mergeGpgKeyrings([a, b, b]), NOW)
    expect(result.signerFingerprint).toBe(fp.rsa2048)
  })

  it('verifies the bytes it was given at the time of the call', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.ed])
    const pending = verifySimpleSigning(blob, keyring, NOW)
    blob.fill(0)
    expect((await pending).signerFingerprint).toBe(fp.ed)
  })

  it('refuses a key not in the keyring, naming its key ID', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.other])
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_UNKNOWN_KEY')
    expect(e.category).toBe('verification')
    expect(e.message).toContain(keyIdOf(fp.other))
    expect(e.details).toEqual({ keyId: keyIdOf(fp.other), issuerFingerprint: fp.other })
    expect(e.hint).toBeDefined()
  })

  it('refuses a key not in the keyring when the signature names only its key ID', async () => {
    // GnuPG before 2.1.16 wrote no issuer fingerprint subpacket. Drop it from the hashed area of a
    // v4 signature (breaking it, which does not matter: the key is looked up first) and keep the
    // issuer key ID in the unhashed area.
    const plain = gpg.sign(PAYLOAD, [fp.other], ['--compress-algo', 'none'])
    const sigAt = gpg.offsetOf(plain, 2)
    const body = Buffer.from(plain.subarray(sigAt + 2)) // old format, 1-byte length (ed25519)
    const hashedLength = body.readUInt16BE(4)
    const hashed = body.subarray(6, 6 + hashedLength)
    const kept: Buffer[] = []
    for (let at = 0; at < hashed.length; at += 1 + (hashed[at] ?? 0)) {
      const sub = hashed.subarray(at, at + 1 + (hashed[at] ?? 0))
      if ((sub[1] ?? 0) !== 33) kept.push(sub)
    }
    const newHashed = Buffer.concat(kept)
    const length = Buffer.alloc(2)
    length.writeUInt16BE(newHashed.length)
    const newBody = Buffer.concat([
      body.subarray(0, 4),
      length,
      newHashed,
      body.subarray(6 + hashedLength),
    ])
    const blob = concat(new Uint8Array([0x88, newBody.length]), newBody, plain.subarray(15, sigAt))
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_UNKNOWN_KEY')
    expect(e.details).toEqual({ keyId: keyIdOf(fp.other) })
  })

  it('refuses two signatures, compressed (ZIP) or BZIP2', async () => {
    for (const extra of [[], ['--compress-algo', 'bzip2']]) {
      const blob = gpg.sign(PAYLOAD, [fp.ed, fp.rsa2048], extra)
      expect(gpg.verdict(blob, '20200102T000000')).toBe('GOODSIG')
      const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
      expect(e.code).toBe('ERR_SIMPLE_SIGNING_MULTIPLE_SIGNATURES')
      expect(e.details['signatures']).toBe(2)
    }
  })

  it('refuses a second (non-data) signature hidden inside BZIP2, as gpgme does', async () => {
    // [standalone signature, data signature, literal], BZIP2-compressed: openpgp's result lists
    // only data signatures, so the packets themselves must be counted.
    const detached = new Uint8Array(
      gpg.run(['-u', fp.ed, '--detach-sign'], { input: PAYLOAD, at: '20200101T120000' }).stdout,
    )
    const literal = new Uint8Array(
      gpg.run(['--store', '--compress-algo', 'none'], { input: PAYLOAD }).stdout,
    )
    // An old-format packet header is 2, 3 or 5 bytes (length type in the low bits); the body of a
    // v4 signature starts with the version and the signature type.
    const header = [2, 3, 5][(detached[0] ?? 0) & 0x03] ?? 2
    const standalone = Uint8Array.from(detached)
    standalone[header + 1] = 0x02
    const inner = concat(standalone, detached, literal)
    const bz2 = new Uint8Array(execFileSync('bzip2', ['-c'], { input: inner }))
    const blob = concat(new Uint8Array([0xa3, 0x03]), bz2)
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_MULTIPLE_SIGNATURES')
  })

  it('says a signature dated before its key is a clock problem, not tampering', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.ed], ['--compress-algo', 'none'])
    // The signature-creation-time subpacket (length 5, type 2, u32 BE): move it to 2018, before
    // the key (made in 2019). The signature no longer verifies, and the date says why.
    const signed = Math.floor(Date.parse('2020-01-01T12:00:00Z') / 1000)
    const marker = Buffer.from([
      0x05,
      0x02,
      ...Buffer.from(signed.toString(16).padStart(8, '0'), 'hex'),
    ])
    const at = Buffer.from(blob).indexOf(marker)
    expect(at).toBeGreaterThan(0)
    Buffer.from(blob.buffer, blob.byteOffset).writeUInt32BE(
      Date.parse('2018-01-01T00:00:00Z') / 1000,
      at + 2,
    )
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_SIGNATURE_BEFORE_KEY')
  })

  it('refuses a signature over altered data, as gpg does', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.rsa3072], ['--compress-algo', 'none'])
    const at = Buffer.from(blob).indexOf('quay.io')
    blob[at] = 0x51 // 'Q'
    expect(gpg.verdict(blob, '20200102T000000')).toBe('BADSIG')
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_BAD_SIGNATURE')
    expect(e.details['keyId']).toBe(keyIdOf(fp.rsa3072))
    expect(e.cause).toBeInstanceOf(Error)
  })

  it('refuses an expired signature after its expiry and accepts it before, as gpg does', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.ed], ['--default-sig-expire', '1d'])
    expect(gpg.verdict(blob, '20200102T000000')).toBe('GOODSIG')
    expect((await verifySimpleSigning(blob, keyring, NOW)).signerFingerprint).toBe(fp.ed)
    expect(gpg.verdict(blob, '20200103T000000')).toBe('EXPSIG')
    const e = await thrown(() => verifySimpleSigning(blob, keyring, at('2020-01-03T00:00:00Z')))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_SIGNATURE_EXPIRED')
    expect(e.details['expired']).toBe('2020-01-02T12:00:00.000Z')
  })

  it('refuses a signature made after the verification time', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.ed], [], '20300101T000000')
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_SIGNATURE_IN_FUTURE')
    expect(e.details['created']).toBe('2030-01-01T00:00:00.000Z')
  })

  // gpg sets no bound (a signature dated 2030 is GOODSIG in 2020, and skopeo accepts it); a
  // signer's clock a little ahead must not refuse the image, one far ahead (or ours far behind) must.
  it('accepts a signature dated up to CLOCK_SKEW_SECONDS after `now`, as gpg does', async () => {
    expect(CLOCK_SKEW_SECONDS).toBe(300)
    for (const signed of ['20200102T000001', '20200102T000500']) {
      const blob = gpg.sign(PAYLOAD, [fp.ed], [], signed)
      expect(gpg.verdict(blob, '20200102T000000')).toBe('GOODSIG')
      const result = await verifySimpleSigning(blob, keyring, NOW)
      expect(result.signerFingerprint).toBe(fp.ed)
      expect(result.signatureCreated.getTime() - NOW.getTime()).toBeGreaterThan(0)
    }
  })

  it('refuses a signature dated more than CLOCK_SKEW_SECONDS after `now`, where gpg has no bound', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.ed], [], '20200102T000501')
    expect(gpg.verdict(blob, '20200102T000000')).toBe('GOODSIG')
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_SIGNATURE_IN_FUTURE')
    expect(e.details['created']).toBe('2020-01-02T00:05:01.000Z')
    expect(e.message).toContain('more than 300 s after')
  })

  it('refuses a signature dated within the skew by a key made after `now`, as gpg does', async () => {
    const late = gpg.genKey('Late <late@example.com>', 'ed25519', 'sign', '0', '20200102T000100')
    const lateKeyring = await parseGpgKeyring(gpg.exportKeys([late]), 'keyPath')
    const blob = gpg.sign(PAYLOAD, [late], [], '20200102T000200')
    expect(gpg.verdict(blob, '20200102T000000')).toBe('ERRSIG')
    expect(gpg.verdict(blob, '20200102T000300')).toBe('GOODSIG')
    const e = await thrown(() => verifySimpleSigning(blob, lateKeyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_KEY_NOT_YET_VALID')
    expect(e.details['fingerprint']).toBe(late)
    const later = await verifySimpleSigning(blob, lateKeyring, at('2020-01-02T00:03:00Z'))
    expect(later.signerFingerprint).toBe(late)
  })

  it('refuses an expired key at a time after its expiry, as gpg does', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.expiring])
    expect((await verifySimpleSigning(blob, keyring, NOW)).signerFingerprint).toBe(fp.expiring)
    expect(gpg.verdict(blob, '20210601T000000')).toBe('EXPKEYSIG')
    const e = await thrown(() => verifySimpleSigning(blob, keyring, at('2021-06-01T00:00:00Z')))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_KEY_EXPIRED')
    expect(e.details['fingerprint']).toBe(fp.expiring)
  })

  it('refuses SHA-1 data signatures, which gpg 2.2 still accepts', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.rsa2048], ['--digest-algo', 'SHA1'])
    expect(gpg.verdict(blob, '20200102T000000')).toBe('GOODSIG')
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_WEAK_ALGORITHM')
    expect(e.message).toContain('SHA-1')
  })

  it('refuses a signature by an RSA-1024 key as unusable', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.weak])
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_KEY_UNUSABLE')
    expect(e.details['fingerprint']).toBe(fp.weak)
  })

  it('refuses a non-date `now`', async () => {
    const blob = gpg.sign(PAYLOAD, [fp.ed])
    const e = await thrown(() => verifySimpleSigning(blob, keyring, new Date('not a date')))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_INVALID_TIME')
    expect(e.category).toBe('usage')
  })
})

describe('verifySimpleSigning: revocation at `now`', () => {
  // Revoked in a home of their own, so the other tests' keys stay valid.
  let home: TestGpg
  let revoked: string
  let withSubkey: string
  let revokedSubkey: string
  let before: Uint8Array
  let blobs: { key: Uint8Array; subkey: Uint8Array; ahead: Uint8Array; subkeyAhead: Uint8Array }

  beforeAll(() => {
    home = new TestGpg()
    revoked = home.genKey('Revoked <rev@example.com>', 'ed25519', 'sign')
    withSubkey = home.genKey('Revoked sub <revsub@example.com>', 'rsa2048', 'cert')
    revokedSubkey = home.addSubkey(withSubkey, 'rsa2048', 'sign')
    blobs = {
      key: home.sign(PAYLOAD, [revoked]),
      subkey: home.sign(PAYLOAD, [withSubkey]),
      // Dated 2 min after the time they are verified at below (within the skew), so verified
      // again at their own date: the revocations must still count, judged at `now`.
      ahead: home.sign(PAYLOAD, [revoked], [], '20200701T000200'),
      subkeyAhead: home.sign(PAYLOAD, [withSubkey], [], '20200701T000200'),
    }
    before = home.exportKeys([revoked, withSubkey])
    home.revokeKey(revoked, '20200601T000000')
    home.revokeSubkey(withSubkey, 1, '20200601T000000')
  })
  afterAll(() => {
    home.dispose()
  })

  it('accepts the signatures with the keys as they were before the revocations', async () => {
    const old = await parseGpgKeyring(before, 'keyPath')
    expect((await verifySimpleSigning(blobs.key, old, NOW)).signerFingerprint).toBe(revoked)
    const bySubkey = await verifySimpleSigning(blobs.subkey, old, NOW)
    expect(bySubkey.signingKeyFingerprint).toBe(revokedSubkey)
  })

  it('refuses a revoked key and a revoked subkey, as gpg does (REVKEYSIG)', async () => {
    const now = await parseGpgKeyring(home.exportKeys([revoked, withSubkey]), 'keyPath')
    for (const [blob, keyId] of [
      [blobs.key, keyIdOf(revoked)],
      [blobs.subkey, keyIdOf(revokedSubkey)],
    ] as const) {
      expect(home.verdict(blob, '20200701T000000')).toBe('REVKEYSIG')
      const e = await thrown(() => verifySimpleSigning(blob, now, at('2020-07-01T00:00:00Z')))
      expect(e.code).toBe('ERR_SIMPLE_SIGNING_KEY_REVOKED')
      expect(e.details['keyId']).toBe(keyId)
    }
  })

  it('refuses a revoked key and subkey whose signature is dated within the skew after `now`', async () => {
    const now = await parseGpgKeyring(home.exportKeys([revoked, withSubkey]), 'keyPath')
    for (const blob of [blobs.ahead, blobs.subkeyAhead]) {
      const e = await thrown(() => verifySimpleSigning(blob, now, at('2020-07-01T00:00:00Z')))
      expect(e.code).toBe('ERR_SIMPLE_SIGNING_KEY_REVOKED')
    }
    const old = await parseGpgKeyring(before, 'keyPath')
    const accepted = await verifySimpleSigning(blobs.ahead, old, at('2020-07-01T00:00:00Z'))
    expect(accepted.signatureCreated.toISOString()).toBe('2020-07-01T00:02:00.000Z')
  })

  it('refuses when any copy of the key in a merged keyring carries the revocation', async () => {
    const old = await parseGpgKeyring(before, 'keyPaths[0]')
    const fresh = await parseGpgKeyring(home.exportKeys([revoked]), 'keyPaths[1]')
    for (const merged of [mergeGpgKeyrings([old, fresh]), mergeGpgKeyrings([fresh, old])]) {
      const e = await thrown(() => verifySimpleSigning(blobs.key, merged, at('2020-07-01Z')))
      expect(e.code).toBe('ERR_SIMPLE_SIGNING_KEY_REVOKED')
    }
  })
})

describe('verifySimpleSigning: a key that expires between `now` and a signature dated within the skew', () => {
  // The signer extended its key (or signing subkey) after the policy's copy was exported, then
  // signed at 00:03; the policy's copy expires at 00:02. Verified at 00:00, the signature is
  // within the skew and is judged at its own date, when that copy had expired.
  let signer: TestGpg
  let verifier: TestGpg
  const key = { primary: '', withSubkey: '', subkey: '' }
  let stale: GpgKeyring
  let blobs: { primary: Uint8Array; subkey: Uint8Array }

  beforeAll(async () => {
    signer = new TestGpg()
    verifier = new TestGpg()
    key.primary = signer.genKey('Short <short@example.com>', 'ed25519', 'sign', '20200102T000200')
    key.withSubkey = signer.genKey('Short sub <shortsub@example.com>', 'ed25519', 'cert')
    key.subkey = signer.addSubkey(key.withSubkey, 'ed25519', 'sign', '20200102T000200')
    const exported = signer.exportKeys([key.primary, key.withSubkey])
    stale = await parseGpgKeyring(exported, 'keyPath')
    verifier.run(['--import'], { input: exported })
    signer.run(['--quick-set-expire', key.primary, '0'], { at: '20190601T000000' })
    signer.run(['--quick-set-expire', key.withSubkey, '0', key.subkey], { at: '20190601T000000' })
    blobs = {
      primary: signer.sign(PAYLOAD, [key.primary], [], '20200102T000300'),
      subkey: signer.sign(PAYLOAD, [key.withSubkey], [], '20200102T000300'),
    }
  })
  afterAll(() => {
    signer.dispose()
    verifier.dispose()
  })

  it('refuses it as made by an expired key, not as a bad signature (gpg judges the key at its own clock only)', async () => {
    for (const [blob, keyId, fingerprint] of [
      [blobs.primary, keyIdOf(key.primary), key.primary],
      [blobs.subkey, keyIdOf(key.subkey), key.withSubkey],
    ] as const) {
      expect(verifier.verdict(blob, '20200102T000000')).toBe('GOODSIG')
      expect(verifier.verdict(blob, '20200102T000230')).toBe('EXPKEYSIG')
      const e = await thrown(() => verifySimpleSigning(blob, stale, NOW))
      expect(e.code).toBe('ERR_SIMPLE_SIGNING_KEY_EXPIRED')
      expect(e.details).toEqual({
        keyId,
        fingerprint,
        created: '2020-01-02T00:03:00.000Z',
        expired: '2020-01-02T00:02:00.000Z',
      })
      expect(e.message).toContain(
        'expired at 2020-01-02T00:02:00.000Z, before the signature was made (2020-01-02T00:03:00.000Z',
      )
      expect(e.hint).toContain('export the key again')
    }
  })

  it('accepts it with the key as the signer extended it', async () => {
    const current = await parseGpgKeyring(signer.exportKeys([key.primary, key.withSubkey]), 'k')
    expect((await verifySimpleSigning(blobs.primary, current, NOW)).signerFingerprint).toBe(
      key.primary,
    )
    const bySubkey = await verifySimpleSigning(blobs.subkey, current, NOW)
    expect(bySubkey.signingKeyFingerprint).toBe(key.subkey)
  })
})

describe('verifySimpleSigning: not a signed message', () => {
  const notSigned = async (blob: Uint8Array): Promise<string> => {
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_NOT_SIGNED_MESSAGE')
    return String(e.details['found'])
  }
  const store = (extra: string[]): Uint8Array =>
    new Uint8Array(gpg.run([...extra, '--store'], { input: PAYLOAD }).stdout)

  it('refuses unsigned literal data, compressed (ZIP, BZIP2) or not', async () => {
    expect(await notSigned(store([]))).toBe('literal data without a signature')
    expect(await notSigned(store(['--compress-algo', 'none']))).toBe(
      'literal data without a signature',
    )
    expect(await notSigned(store(['--compress-algo', 'bzip2']))).toBe(
      'a message without a data signature',
    )
  })

  it('refuses encrypted data', async () => {
    const blob = new Uint8Array(
      gpg.run(['--passphrase', 'x', '--pinentry-mode', 'loopback', '--symmetric'], {
        input: PAYLOAD,
      }).stdout,
    )
    expect(await notSigned(blob)).toBe('an encrypted message')
  })

  it('refuses a detached signature, an armored signed message and a clearsigned one', async () => {
    const sig = new Uint8Array(gpg.run(['-u', fp.ed, '--detach-sign'], { input: PAYLOAD }).stdout)
    expect(await notSigned(sig)).toBe('a detached signature (no signed data)')
    expect(await notSigned(gpg.sign(PAYLOAD, [fp.ed], ['--armor']))).toMatch(/ASCII-armored/)
    const clear = new Uint8Array(gpg.run(['-u', fp.ed, '--clearsign'], { input: PAYLOAD }).stdout)
    expect(await notSigned(clear)).toMatch(/ASCII-armored/)
  })
})
