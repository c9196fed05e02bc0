import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import fc from 'fast-check'
import { DEFAULT_MAX_DOCUMENT_SIZE, INITDATA_ALGORITHMS, TEE_KINDS } from '@initguard/initdata'
import { runInProcess as run } from '../cli-test-support.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

// The commands read what they write: build → encode → decode and build → image → read-image give
// back the exact bytes build wrote, for every --for-tee and --algorithm; what a reader would refuse
// is refused by the writer.

const dir = scratch.make('initguard-transport-')
let counter = 0
const file = (content: string | Uint8Array): string => {
  const path = join(dir, `f${counter++}`)
  writeFileSync(path, content)
  return path
}

async function ok(args: string[]): Promise<Buffer> {
  const result = await run(args)
  expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0)
  return result.stdoutBytes
}

/** Build from `data` files with `choice`, then check both transports give back the same bytes. */
async function checkRoundTrip(data: Record<string, string>, choice: string[]): Promise<void> {
  const parts = Object.entries(data).flatMap(([key, value]) => ['--data', `${key}=${file(value)}`])
  const document = await ok(['initdata', 'build', ...parts, ...choice])
  const path = file(document)
  const annotation = file(await ok(['initdata', 'encode', path]))
  expect((await ok(['initdata', 'decode', '--from-file', annotation])).equals(document)).toBe(true)
  const value = readFileSync(annotation, 'utf8').trim()
  expect((await ok(['initdata', 'decode', value])).equals(document)).toBe(true)
  const image = join(dir, `img${counter++}`)
  await ok(['initdata', 'image', path, '-o', image])
  expect((await ok(['initdata', 'read-image', image])).equals(document)).toBe(true)
  const digests = await Promise.all(
    [[path], [annotation, '--from', 'annotation'], [image, '--from', 'image']].map((input) =>
      ok(['initdata', 'digest', ...input]),
    ),
  )
  expect(new Set(digests.map(String)).size).toBe(1)
}

const choices = [
  ...TEE_KINDS.map((tee) => ['--for-tee', tee]),
  ...INITDATA_ALGORITHMS.map((a) => ['--algorithm', a]),
  [],
]

describe('initguard initdata: the tool reads what it writes', () => {
  it('for every --for-tee and --algorithm, with CRLF and non-ASCII files', async () => {
    for (const choice of choices) {
      await checkRoundTrip(
        { 'aa.toml': '[a]\r\nb = "grüße 🔐"\r\n', 'policy.rego': "package x\n'''\n", e: '' },
        choice,
      )
    }
  })

  it('for any data files (property)', async () => {
    const text = fc.string({
      unit: fc.constantFrom('\r\n', '\n', '\r', "'", '"', '\\', '\t', 'é', '🔐', '\ufeff', 'a'),
      maxLength: 30,
    })
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.stringMatching(/^[a-z][a-z.]{0,8}$/), text, { minKeys: 1, maxKeys: 3 }),
        fc.constantFrom(...choices),
        async (data, choice) => {
          // .toml keys must hold valid TOML; the round trip is about the other keys' bytes.
          const plain = Object.fromEntries(Object.entries(data).map(([k, v]) => [`${k}.txt`, v]))
          await checkRoundTrip(plain, choice)
        },
      ),
      { numRuns: 25 },
    )
  })

  it('the largest document the readers accept is written and read back; one byte more is refused', async () => {
    const header = 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"k" = \'\'\n'.length
    const fits = 'a'.repeat(DEFAULT_MAX_DOCUMENT_SIZE - header)
    const largest = await ok([
      'initdata',
      'build',
      '--data',
      `k=${file(fits)}`,
      '--algorithm',
      'sha256',
    ])
    expect(largest).toHaveLength(DEFAULT_MAX_DOCUMENT_SIZE)
    const image = join(dir, 'largest.img')
    await ok(['initdata', 'image', file(largest), '-o', image])
    expect((await ok(['initdata', 'read-image', image])).equals(largest)).toBe(true)

    const refusals = [
      ['initdata', 'build', '--data', `k=${file(`${fits}a`)}`, '--algorithm', 'sha256'],
      ['initdata', 'encode', file(Buffer.concat([largest, Buffer.from('#')]))],
      ['initdata', 'image', file(Buffer.concat([largest, Buffer.from('#')])), '-o', image],
    ]
    for (const args of refusals) {
      const result = await run(args)
      expect(result.code, args[1]).toBe(3)
      expect(result.stderr).toContain('code: ERR_INITDATA_TOO_LARGE')
    }
  })

  it('decode VALUE given "-" or a file name says VALUE is the value itself, and names --from-file', async () => {
    const document = await ok(['initdata', 'build', '--data', `k=${file('v')}`])
    const annotation = file(await ok(['initdata', 'encode', file(document)]))
    for (const value of ['-', annotation]) {
      const result = await run(['initdata', 'decode', value])
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr).toContain(`give --from-file ${value}`)
    }
    // Other text that does not decode stays malformed input.
    expect((await run(['initdata', 'decode', 'not-an-annotation'])).code).toBe(3)
  })
})
