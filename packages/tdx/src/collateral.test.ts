/**
 * The pinned Intel root, the collateral document and the PCS response forms, on the real
 * collateral in testdata/vectors and on adversarial variants of it.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToHex, isInitguardError } from '@initguard/core'
import { collateralDigest, collateralToJson, parseCollateralJson } from './collateral.ts'
import { VECTOR_ROOT, caught } from './collateral-test-support.ts'
import { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256 } from './intel-roots.ts'
import {
  PCS_ISSUER_CHAIN_HEADERS,
  collateralFromPcs,
  decodeIssuerChainHeader,
  parsePcsQeIdentityResponse,
  parsePcsTcbInfoResponse,
} from './pcs-response.ts'

const bytes = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTOR_ROOT)))
const text = (path: string): string => readFileSync(new URL(path, VECTOR_ROOT), 'utf8')

const DOCUMENTS = ['tdx/spr-v4', 'tdx/v4-b', 'sgx/v3-a'] as const
const raw = (folder: string): Record<string, string> =>
  JSON.parse(text(`${folder}/collateral.json`)) as Record<string, string>

/** Only InitguardErrors may escape a parser. */
function onlyInitguardErrors(fn: () => unknown): void {
  try {
    fn()
  } catch (e) {
    if (!isInitguardError(e)) throw e
  }
}

describe('the pinned Intel SGX Root CA', () => {
  it('is the PEM of vectors/tdx/intel-root/intel_sgx_root_ca.pem', () => {
    expect(INTEL_SGX_ROOT_CA_PEM.trim()).toBe(text('tdx/intel-root/intel_sgx_root_ca.pem').trim())
  })

  it('has the documented SHA-256 fingerprint of its DER (44:A0:19:6B:…:74:D3)', () => {
    const der = new X509Certificate(INTEL_SGX_ROOT_CA_PEM).raw
    expect(createHash('sha256').update(der).digest('hex')).toBe(INTEL_SGX_ROOT_CA_SHA256)
    expect(INTEL_SGX_ROOT_CA_SHA256).toMatch(/^44a0196b.*74d3$/)
    const file = new X509Certificate(text('tdx/intel-root/intel_sgx_root_ca.pem'))
    expect(file.fingerprint256.replaceAll(':', '').toLowerCase()).toBe(INTEL_SGX_ROOT_CA_SHA256)
  })

  it('is the self-signed Intel SGX Root CA, valid 2018-05-21 → 2049-12-31', () => {
    const root = new X509Certificate(INTEL_SGX_ROOT_CA_PEM)
    expect(root.subject).toContain('CN=Intel SGX Root CA')
    expect(root.verify(root.publicKey)).toBe(true)
    expect(new Date(root.validTo).toISOString()).toBe('2049-12-31T23:59:59.000Z')
  })
})

describe('parseCollateralJson on the real collateral documents', () => {
  it.each(DOCUMENTS)('%s: every field decoded, text fields kept exactly', (folder) => {
    const json = raw(folder)
    const c = parseCollateralJson(bytes(`${folder}/collateral.json`))
    expect(c.tcbInfo).toBe(json['tcb_info'])
    expect(c.qeIdentity).toBe(json['qe_identity'])
    expect(bytesToHex(c.tcbInfoSignature)).toBe(json['tcb_info_signature'])
    expect(bytesToHex(c.qeIdentitySignature)).toBe(json['qe_identity_signature'])
    expect(bytesToHex(c.rootCaCrl)).toBe(json['root_ca_crl'])
    expect(bytesToHex(c.pckCrl)).toBe(json['pck_crl'])
    expect(c.tcbInfoIssuerChain).toBe(json['tcb_info_issuer_chain'])
    expect(c.pckCrlIssuerChain).toBe(json['pck_crl_issuer_chain'])
    expect(c.tcbInfoSignature).toHaveLength(64)
  })

  it.each(DOCUMENTS)('%s: collateralToJson round-trips, and the digest is stable', (folder) => {
    const c = parseCollateralJson(text(`${folder}/collateral.json`))
    const again = parseCollateralJson(collateralToJson(c))
    expect(again).toEqual(c)
    expect(collateralDigest(again)).toBe(collateralDigest(c))
    expect(collateralDigest(c)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('gives different digests for different collateral', () => {
    const digests = DOCUMENTS.map((f) =>
      collateralDigest(parseCollateralJson(text(`${f}/collateral.json`))),
    )
    expect(new Set(digests).size).toBe(3)
  })
})

describe('parseCollateralJson refuses malformed documents, naming the field', () => {
  const base = raw('tdx/spr-v4')
  const variant = (edit: (doc: Record<string, unknown>) => void): string => {
    const doc: Record<string, unknown> = { ...base }
    edit(doc)
    return JSON.stringify(doc)
  }
  const cases: [string, (doc: Record<string, unknown>) => void, string][] = [
    ['a missing signature', (d) => delete d['tcb_info_signature'], 'collateral.tcb_info_signature'],
    [
      'a short signature',
      (d) => (d['qe_identity_signature'] = 'ab'.repeat(63)),
      'collateral.qe_identity_signature',
    ],
    [
      'a non-hex signature',
      (d) => (d['tcb_info_signature'] = 'zz'.repeat(64)),
      'collateral.tcb_info_signature',
    ],
    [
      'tcb_info as an object',
      (d) => (d['tcb_info'] = JSON.parse(base['tcb_info'] ?? '{}') as unknown),
      'collateral.tcb_info',
    ],
    ['an empty qe_identity', (d) => (d['qe_identity'] = ''), 'collateral.qe_identity'],
    ['a CRL that is not hex', (d) => (d['pck_crl'] = 'MIIB'), 'collateral.pck_crl'],
    ['an odd-length CRL', (d) => (d['root_ca_crl'] = '308'), 'collateral.root_ca_crl'],
    [
      'a chain without PEM',
      (d) => (d['pck_crl_issuer_chain'] = 'MIIC…'),
      'collateral.pck_crl_issuer_chain',
    ],
    [
      'a number for a chain',
      (d) => (d['tcb_info_issuer_chain'] = 5),
      'collateral.tcb_info_issuer_chain',
    ],
  ]
  it.each(cases)('%s', (_, edit, field) => {
    const e = caught(() => parseCollateralJson(variant(edit)))
    expect(e.code).toBe('ERR_TDX_COLLATERAL_INVALID')
    expect(e.category).toBe('malformed')
    expect(e.details['field']).toBe(field)
    expect(e.message).toContain(field)
  })

  it('refuses text that is not JSON, or not an object', () => {
    expect(caught(() => parseCollateralJson('{')).code).toBe('ERR_TDX_COLLATERAL_INVALID')
    expect(caught(() => parseCollateralJson('[]')).details['field']).toBe('collateral')
    expect(caught(() => parseCollateralJson(Uint8Array.of(0xff))).code).toBe('ERR_UTF8_INVALID')
  })
})

describe('PCS responses (vectors/tdx/spr-v4 raw bodies, CRLs and chains)', () => {
  const folder = 'tdx/spr-v4'
  const responses = {
    tcbInfo: {
      body: text(`${folder}/tcbinfo-response.json`),
      issuerChain: encodeURIComponent(text(`${folder}/tcb-signing-chain.pem`)),
    },
    qeIdentity: {
      body: bytes(`${folder}/qeidentity-response.json`),
      issuerChain: encodeURIComponent(text(`${folder}/tcb-signing-chain.pem`)),
    },
    pckCrl: {
      body: bytes(`${folder}/pck-platform-crl.der`),
      issuerChain: encodeURIComponent(text(`${folder}/pck-crl-issuer-chain.pem`)),
    },
    rootCaCrl: bytes(`${folder}/root-ca-crl.der`),
  }

  it('assemble exactly the collateral document of the same data', () => {
    const fromPcs = collateralFromPcs(responses)
    const document = parseCollateralJson(text(`${folder}/collateral.json`))
    expect(fromPcs).toEqual(document)
    expect(collateralDigest(fromPcs)).toBe(collateralDigest(document))
  })

  it('cut the inner JSON out byte for byte, whatever surrounds it', () => {
    const body = text(`${folder}/tcbinfo-response.json`)
    const inner = parsePcsTcbInfoResponse(body).text
    expect(body).toContain(inner)
    expect(inner.startsWith('{"id":"TDX"')).toBe(true)
    // Reordered members and whitespace outside the signed value do not change what is cut out.
    const parsed = JSON.parse(body) as { signature: string }
    const reordered = `\n {\r\n\t"signature" : "${parsed.signature}" ,\n  "tcbInfo"\t:  ${inner}  \n}\n`
    expect(parsePcsTcbInfoResponse(reordered).text).toBe(inner)
    // Strings with braces, brackets, quotes and escapes inside the value are skipped correctly.
    const tricky = `{"x":{"a":"}]\\"{[","b":[1,{"c":"\\\\"}]},"enclaveIdentity":{"k":"v\\u0022}"},"signature":"${'00'.repeat(64)}"}`
    expect(parsePcsQeIdentityResponse(tricky).text).toBe('{"k":"v\\u0022}"}')
  })

  it('refuse a body with the signed member twice', () => {
    const inner = '{"id":"TD_QE"}'
    const body = `{"enclaveIdentity":${inner},"signature":"${'00'.repeat(64)}","enclaveIdentity":{"id":"QE"}}`
    const e = caught(() => parsePcsQeIdentityResponse(body))
    expect(e.code).toBe('ERR_TDX_PCS_RESPONSE_INVALID')
    expect(e.details['field']).toBe('enclaveIdentity')
  })

  it.each([
    ['not JSON', '{"tcbInfo":', 'body'],
    ['no tcbInfo', `{"signature":"${'00'.repeat(64)}"}`, 'tcbInfo'],
    ['tcbInfo not an object', `{"tcbInfo":"{}","signature":"${'00'.repeat(64)}"}`, 'tcbInfo'],
    ['no signature', '{"tcbInfo":{}}', 'body.signature'],
    ['a short signature', '{"tcbInfo":{},"signature":"00"}', 'body.signature'],
  ])('refuse a body with %s', (_, body, field) => {
    const e = caught(() => parsePcsTcbInfoResponse(body))
    expect(e.code).toBe('ERR_TDX_PCS_RESPONSE_INVALID')
    expect(e.details['field']).toBe(field)
  })

  it('decode issuer-chain headers, and refuse bad escapes or chains without PEM', () => {
    const pem = text(`${folder}/tcb-signing-chain.pem`)
    expect(decodeIssuerChainHeader(encodeURIComponent(pem))).toBe(pem)
    expect(decodeIssuerChainHeader(pem)).toBe(pem)
    const bad = caught(() => decodeIssuerChainHeader('%E0%A4%A', PCS_ISSUER_CHAIN_HEADERS.tcbInfo))
    expect(bad.code).toBe('ERR_TDX_PCS_RESPONSE_INVALID')
    expect(bad.details['field']).toBe('TCB-Info-Issuer-Chain')
    expect(caught(() => decodeIssuerChainHeader('abc')).code).toBe('ERR_TDX_PCS_RESPONSE_INVALID')
  })

  it('accept the PCK CRL as PEM or hex too', () => {
    const der = bytes(`${folder}/pck-platform-crl.der`)
    const pem = `-----BEGIN X509 CRL-----\n${(
      Buffer.from(der)
        .toString('base64')
        .match(/.{1,64}/g) ?? []
    ).join('\n')}\n-----END X509 CRL-----\n`
    const viaPem = collateralFromPcs({ ...responses, pckCrl: { ...responses.pckCrl, body: pem } })
    const viaHex = collateralFromPcs({
      ...responses,
      pckCrl: { ...responses.pckCrl, body: bytesToHex(der) },
    })
    expect(viaPem.pckCrl).toEqual(der)
    expect(viaHex.pckCrl).toEqual(der)
  })
})

describe('properties: the collateral readers throw nothing but InitguardErrors', () => {
  const spr = raw('tdx/spr-v4')
  const body = text('tdx/spr-v4/tcbinfo-response.json')

  it('parseCollateralJson on arbitrary text, bytes and JSON values', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        onlyInitguardErrors(() => parseCollateralJson(s))
      }),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        onlyInitguardErrors(() => parseCollateralJson(b))
      }),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        onlyInitguardErrors(() => parseCollateralJson(JSON.stringify(v)))
      }),
      { numRuns: 300 },
    )
  })

  it('parseCollateralJson with any one field replaced by an arbitrary JSON value', () => {
    const keys = Object.keys(spr)
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.jsonValue(), (key, value) => {
        onlyInitguardErrors(() => parseCollateralJson(JSON.stringify({ ...spr, [key]: value })))
      }),
      { numRuns: 300 },
    )
  })

  it('the PCS readers on arbitrary text, and on the real body cut short anywhere', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        onlyInitguardErrors(() => parsePcsTcbInfoResponse(s))
        onlyInitguardErrors(() => parsePcsQeIdentityResponse(s))
        onlyInitguardErrors(() => decodeIssuerChainHeader(s))
      }),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: body.length }),
        fc.string({ maxLength: 8 }),
        (at, junk) => {
          onlyInitguardErrors(() =>
            parsePcsTcbInfoResponse(body.slice(0, at) + junk + body.slice(at)),
          )
        },
      ),
      { numRuns: 300 },
    )
  })

  it('the signed text the PCS reader cuts out is always a substring of the body', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(' ', '\n', '\t', ''), (value, ws) => {
        const inner = JSON.stringify(value, null, ws === '' ? undefined : ws)
        const full = `{${ws}"tcbInfo"${ws}:${ws}${inner}${ws},"signature":"${'ab'.repeat(64)}"}`
        try {
          expect(parsePcsTcbInfoResponse(full).text).toBe(inner)
        } catch (e) {
          // Only a value that is not an object may be refused.
          if (!isInitguardError(e)) throw e
          expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(false)
        }
      }),
      { numRuns: 300 },
    )
  })
})
