import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { buildInitdataImage, encodeAnnotation } from '@initguard/initdata'
import { jsonError, runCliCaptured as run } from './cli-test-support.ts'

const VECTORS = fileURLToPath(new URL('../../../testdata/vectors/', import.meta.url))
const DOCUMENT =
  'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = \'\'\'\n[token_configs]\n\'\'\'\n'

describe('evidence inspect|verify given a file that is not evidence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'initguard-wrong-file-'))
  const written = (name: string, content: string | Uint8Array): string => {
    writeFileSync(join(dir, name), content)
    return join(dir, name)
  }
  const cases: [string, () => string, string, string][] = [
    ['a VCEK (DER)', () => join(VECTORS, 'snp/milan-v2-a/vcek.der'), 'amd-certificate', '--certs'],
    [
      'a VCEK (PEM)',
      () => join(VECTORS, 'snp/milan-v3-hostdata/vcek.pem'),
      'amd-certificate',
      '--certs',
    ],
    [
      'an ASK/ARK bundle',
      () => join(VECTORS, 'snp/amd-roots/ask_ark_milan.pem'),
      'amd-certificate',
      '--trust-root',
    ],
    ['a CCEL event log', () => join(VECTORS, 'ccel/CCEL_data'), 'ccel-event-log', 'quote'],
    [
      'collateral JSON',
      () => join(VECTORS, 'tdx/spr-v4/collateral.json'),
      'dcap-collateral-json',
      '--collateral',
    ],
    [
      "Intel PCS's TCB info",
      () => join(VECTORS, 'tdx/spr-v4/tcbinfo-response.json'),
      'pcs-tcb-info',
      '--collateral',
    ],
    [
      "Intel PCS's QE identity",
      () => join(VECTORS, 'tdx/spr-v4/qeidentity-response.json'),
      'pcs-qe-identity',
      '--collateral',
    ],
    [
      'an Intel CRL',
      () => join(VECTORS, 'tdx/spr-v4/pck-platform-crl.der'),
      'intel-crl',
      '--collateral',
    ],
    [
      'an initdata document',
      () => written('initdata.toml', DOCUMENT),
      'initdata-document',
      '--expect-initdata',
    ],
    [
      'an initdata image',
      () => written('initdata.img', buildInitdataImage(new TextEncoder().encode(DOCUMENT))),
      'initdata-image',
      'read-image',
    ],
    [
      'an annotation value',
      () => written('annotation.txt', encodeAnnotation(new TextEncoder().encode(DOCUMENT))),
      'initdata-annotation',
      'initdata decode',
    ],
  ]
  it.each(cases)('names %s and the option to use (exit 3)', async (_name, path, kind, option) => {
    for (const command of ['inspect', 'verify']) {
      const result = await run(['evidence', command, path(), '--json'])
      expect(result.code).toBe(3)
      const error = jsonError(result)
      expect(error.code).toBe('ERR_EVIDENCE_WRONG_FILE')
      expect(error.details['file_kind']).toBe(kind)
      expect(error.hint).toContain(option)
    }
    const text = await run(['evidence', 'inspect', path()])
    expect(text.stderr).toContain('not evidence')
    expect(text.stderr).not.toMatch(/report version|UTF-8/)
  })
})
