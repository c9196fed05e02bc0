import { gzipSync } from 'node:zlib'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { buildInitdataImage, encodeAnnotation } from '@initguard/initdata'
import { runInProcess } from '../cli-test-support.ts'
import { recogniseInput } from './initdata-input-kind.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const VECTORS = fileURLToPath(new URL('../../../../testdata/vectors/', import.meta.url))
const DOCUMENT = new TextEncoder().encode(
  'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"k" = \'v\'\n',
)

const run = runInProcess

let dir: string
const files: Record<string, string> = {}

beforeAll(() => {
  dir = scratch.make('initguard-kind-')
  const contents: Record<string, Uint8Array | string> = {
    toml: DOCUMENT,
    annotation: encodeAnnotation(DOCUMENT) + '\n',
    image: buildInitdataImage(DOCUMENT),
    gzip: gzipSync(DOCUMENT),
    snp: readFileSync(join(VECTORS, 'snp/milan-v3-hostdata/report.bin')),
    tdx: readFileSync(join(VECTORS, 'tdx/spr-v4/quote.dat')),
    sgx: readFileSync(join(VECTORS, 'sgx/v3-a/quote.dat')),
    pem: readFileSync(join(VECTORS, 'snp/milan-v3-hostdata/vcek.pem')),
    der: readFileSync(join(VECTORS, 'tdx/spr-v4/root-ca-crl.der')),
    json: readFileSync(join(VECTORS, 'tdx/spr-v4/tcbinfo-response.json')),
  }
  for (const [kind, content] of Object.entries(contents)) {
    files[kind] = join(dir, kind)
    writeFileSync(files[kind], content)
  }
  writeFileSync(join(dir, 'pod.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n')
})

const CODES: Record<string, string> = {
  toml: 'ERR_INITDATA_INPUT_IS_DOCUMENT',
  annotation: 'ERR_INITDATA_INPUT_IS_ANNOTATION',
  image: 'ERR_INITDATA_INPUT_IS_IMAGE',
  gzip: 'ERR_INITDATA_INPUT_IS_GZIP',
  snp: 'ERR_INITDATA_INPUT_IS_EVIDENCE',
  tdx: 'ERR_INITDATA_INPUT_IS_EVIDENCE',
  sgx: 'ERR_INITDATA_INPUT_IS_EVIDENCE',
  pem: 'ERR_INITDATA_INPUT_IS_PEM',
  der: 'ERR_INITDATA_INPUT_IS_DER',
  json: 'ERR_INITDATA_INPUT_IS_JSON',
}

const HINTS: Record<string, RegExp> = {
  annotation: /--from annotation|initdata decode --from-file/,
  image: /--from image|initdata read-image/,
  gzip: /gunzip -c/,
  snp: /initguard evidence verify/,
  tdx: /initguard evidence verify/,
  sgx: /initguard evidence verify/,
}

describe('recogniseInput', () => {
  it('names every form and evidence type', () => {
    for (const kind of Object.keys(CODES)) {
      expect(recogniseInput(readFileSync(files[kind] ?? '')), kind).toBe(kind)
    }
    expect(recogniseInput(new Uint8Array([0xff, 0xfe, 0x00]))).toBeUndefined()
  })
})

describe('a file that is not an initdata document, where one is expected', () => {
  const commands: [string, (file: string) => string[]][] = [
    ['digest', (f) => ['initdata', 'digest', f]],
    ['verify', (f) => ['initdata', 'verify', f, '--tee', 'snp', '--expected', '00'.repeat(32)]],
    ['explain', (f) => ['initdata', 'explain', f, '--tee', 'snp', '--expected', '00'.repeat(32)]],
    ['qemu-args', (f) => ['initdata', 'qemu-args', f, '--tee', 'snp']],
    ['encode', (f) => ['initdata', 'encode', f]],
    ['image', (f) => ['initdata', 'image', f, '-o', join(dir, 'out.img')]],
    ['annotate', (f) => ['initdata', 'annotate', join(dir, 'pod.yaml'), '--initdata', f]],
  ]
  for (const [command, argv] of commands) {
    it(`${command}: named, with the option to use, exit 3`, async () => {
      for (const kind of Object.keys(CODES).filter((k) => k !== 'toml')) {
        const result = await run(argv(files[kind] ?? ''))
        expect(result.code, `${command} ${kind}: ${result.stderr}`).toBe(3)
        expect(result.stderr, kind).toContain(`code: ${CODES[kind] ?? ''}`)
        expect(result.stderr, kind).not.toContain('not valid UTF-8')
        const hint = HINTS[kind]
        if (hint !== undefined) expect(result.stderr, kind).toMatch(hint)
      }
    })
  }

  it('--from names the form the file really is', async () => {
    const cases: [string, string, string][] = [
      ['toml', 'image', 'ERR_INITDATA_INPUT_IS_DOCUMENT'],
      ['toml', 'annotation', 'ERR_INITDATA_INPUT_IS_DOCUMENT'],
      ['annotation', 'image', 'ERR_INITDATA_INPUT_IS_ANNOTATION'],
      ['image', 'annotation', 'ERR_INITDATA_INPUT_IS_IMAGE'],
      ['snp', 'image', 'ERR_INITDATA_INPUT_IS_EVIDENCE'],
    ]
    for (const [kind, from, code] of cases) {
      const result = await run(['initdata', 'digest', files[kind] ?? '', '--from', from, '--json'])
      expect(result.code, `${kind} --from ${from}`).toBe(3)
      const error = (JSON.parse(result.stdout) as { error: { code: string; details: object } })
        .error
      expect(error.code).toBe(code)
      expect(error.details).toEqual({ found: kind, expected: from })
    }
  })

  it('decode and read-image name what they were given instead', async () => {
    const decoded = await run(['initdata', 'decode', '--from-file', files['image'] ?? ''])
    expect([decoded.code, decoded.stderr]).toEqual([3, expect.stringContaining('IS_IMAGE')])
    const read = await run(['initdata', 'read-image', files['annotation'] ?? ''])
    expect([read.code, read.stderr]).toEqual([3, expect.stringContaining('IS_ANNOTATION')])
  })

  it('each form is still read with the right --from', async () => {
    const digests = await Promise.all(
      (['toml', 'annotation', 'image'] as const).map((from) =>
        run(['initdata', 'digest', files[from] ?? '', '--from', from]),
      ),
    )
    for (const result of digests)
      expect([result.code, result.stdout]).toEqual([0, digests[0]?.stdout])
  })

  it('--expect-initdata of evidence verify names what it was given', async () => {
    const evidence = [
      [
        join(VECTORS, 'snp/milan-v3-hostdata/report.bin'),
        '--certs',
        files['pem'] ?? '',
        '--offline',
      ],
      [
        join(VECTORS, 'tdx/spr-v4/quote.dat'),
        '--collateral',
        join(VECTORS, 'tdx/spr-v4/collateral.json'),
      ],
    ]
    for (const args of evidence) {
      for (const kind of ['annotation', 'image', 'snp']) {
        const result = await run([
          'evidence',
          'verify',
          ...args,
          '--expect-initdata',
          files[kind] ?? '',
        ])
        expect(result.code, `${kind}: ${result.stderr}`).toBe(3)
        expect(result.stderr).toContain(`--expect-initdata ${JSON.stringify(files[kind])} is`)
        expect(result.stderr).toContain(`code: ${CODES[kind] ?? ''}`)
      }
    }
  })
})
