/**
 * vTPM PCR 8 binding against a real TPM: for real initdata documents, the digest our code takes is
 * extended into PCR 8 of a fresh swtpm with tpm2-tools (`tpm2_pcrextend 8:sha256=…`, what a
 * guest's attester does), PCR 8 is read back (`tpm2_pcrread sha256:8`), and that value must be
 * what `initguard initdata digest --tee vtpm`, `bindingFor(…, 'vtpm')` and `expectedPcr8` say.
 *
 * swtpm is the oracle because a PCR holds whatever `TPM2_PCR_Extend` makes of it: libtpms (the
 * TPM 2.0 implementation behind QEMU's vTPMs) and tpm2-tools share no code with ours, so a wrong
 * formula (another order, no zero start, the digest not hashed) fails here, where a test computing
 * `SHA-256(32 zero bytes ‖ digest)` itself would only repeat it. Each case starts its own TPM:
 * PCR 8 cannot be reset from locality 0, and a binding holds only after exactly one extend from
 * reset.
 */
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { bindingFor, expectedPcr8, parseInitdata } from '@initguard/initdata'
import { ScratchDirectories, codeOf, startSwtpm } from '@initguard/testkit'
import {
  exampleBuildArgs,
  jsonError,
  runInProcess as run,
  type CliRun,
} from './cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

let dir: string
/** The examples rendered as one sha256 document, as `initdata build --for-tee vtpm` writes it. */
let built: string
/** The examples rendered with the default algorithm, sha384. */
let sha384Doc: string

function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

async function build(output: string, ...extra: readonly string[]): Promise<void> {
  const result = await run(exampleBuildArgs(...extra, '-o', output))
  expect(result.code, result.stderr).toBe(0)
}

beforeAll(async () => {
  dir = scratch.make('initguard-vtpm-')
  built = join(dir, 'built.toml')
  sha384Doc = join(dir, 'sha384.toml')
  await build(built, '--for-tee', 'vtpm')
  await build(sha384Doc)
})

/** A small document whose strings are all one line, so its CRLF copy still parses. */
const ONE_LINE = 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = "x = 1\\n"\n'

/**
 * The documents: the built one, its BOM and no-final-newline copies, a small one, and a one-line
 * one with its CRLF copy (a CRLF copy of the built one holds CRLF inside its multi-line strings,
 * which is refused: Kata releases read it differently).
 */
function documents(): Record<string, string> {
  const text = readFileSync(built, 'utf8')
  return {
    built,
    'one line': write('one-line.toml', ONE_LINE),
    crlf: write('crlf.toml', ONE_LINE.replace(/\n/g, '\r\n')),
    bom: write('bom.toml', `\ufeff${text}`),
    'no final newline': write('no-newline.toml', text.trimEnd()),
    small: write(
      'small.toml',
      'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = \'\'\'\nx = 1\n\'\'\'\n',
    ),
  }
}

/** PCR 8 of a fresh TPM after extending each of `digests` into it, in order. */
async function pcr8After(...digests: readonly Uint8Array[]): Promise<string> {
  await using tpm = await startSwtpm()
  expect(await tpm.readPcr(8, 'sha256')).toEqual(new Uint8Array(32))
  for (const digest of digests) await tpm.extendPcr(8, 'sha256', digest)
  const raw = await tpm.readPcr(8, 'sha256')
  // The text tpm2_pcrread prints says the same as the raw bytes it wrote.
  const text = await tpm.tpm2('pcrread', ['sha256:8'])
  expect(/^\s*sha256:\s*\n\s*8\s*:\s*0x([0-9A-F]{64})\s*$/.exec(text)?.[1]?.toLowerCase()).toBe(
    bytesToHex(raw),
  )
  return bytesToHex(raw)
}

/** The digest our code takes of a document (and that it is SHA-256 of the exact bytes). */
async function digestOf(path: string): Promise<Uint8Array> {
  const bytes = readFileSync(path)
  const document = parseInitdata(new Uint8Array(bytes))
  expect(document.algorithm).toBe('sha256')
  const cli = await run(['initdata', 'digest', path])
  expect(cli.code, cli.stderr).toBe(0)
  expect(cli.stdout.trim()).toBe(bytesToHex(document.digest))
  expect(bytesToHex(document.digest)).toBe(createHash('sha256').update(bytes).digest('hex'))
  return document.digest
}

async function explain(path: string, expected: string): Promise<CliRun> {
  return run(['initdata', 'explain', path, '--tee', 'vtpm', '--expected', expected])
}

function causesOf(result: CliRun): string[] {
  return (JSON.parse(result.stdout) as { findings: { cause: string }[] }).findings.map(
    (f) => f.cause,
  )
}

describe('vTPM PCR 8 against swtpm', () => {
  it('one extend from reset gives what digest --tee vtpm, bindingFor and expectedPcr8 say', async () => {
    for (const [name, path] of Object.entries(documents())) {
      const digest = await digestOf(path)
      const pcr = await pcr8After(digest)
      const cli = await run(['initdata', 'digest', path, '--tee', 'vtpm'])
      expect(cli.code, `${name}: ${cli.stderr}`).toBe(0)
      expect(cli.stdout, name).toBe(`${pcr}\n`)
      expect(bytesToHex(bindingFor('vtpm', 'sha256', digest).value), name).toBe(pcr)
      expect(bytesToHex(expectedPcr8(digest)), name).toBe(pcr)
      const verified = await run(['initdata', 'verify', path, '--tee', 'vtpm', '--expected', pcr])
      expect(verified.code, `${name}: ${verified.stderr}`).toBe(0)
      const explained = await explain(path, pcr)
      expect(explained.code, name).toBe(0)
      expect(explained.stdout, name).toContain('The document matches.')
    }
  })

  it('explain finds CRLF and a BOM behind a real PCR 8 of the LF, BOM-less document', async () => {
    const docs = documents()
    for (const [name, original, cause] of [
      ['crlf', docs['one line'] ?? '', 'crlf'],
      ['bom', built, 'bom'],
    ] as const) {
      const pcr = await pcr8After(await digestOf(original))
      const path = docs[name] ?? ''
      const explained = await run([
        ...['initdata', 'explain', path, '--tee', 'vtpm', '--expected', pcr, '--json'],
      ])
      expect(explained.code, name).toBe(5)
      expect(causesOf(explained)[0], name).toBe(cause)
    }
  })

  it('after the digest was extended twice or three times: no match, and explain says so', async () => {
    const digest = await digestOf(built)
    for (const times of [2, 3]) {
      const pcr = await pcr8After(...Array.from({ length: times }, () => digest))
      expect(pcr).not.toBe(bytesToHex(expectedPcr8(digest)))
      const verified = await run(['initdata', 'verify', built, '--tee', 'vtpm', '--expected', pcr])
      expect(verified.code).toBe(5)
      expect(verified.stderr).toContain('ERR_INITDATA_BINDING_MISMATCH')
      const explained = await explain(built, pcr)
      expect(explained.code).toBe(5)
      expect(explained.stdout).not.toContain('The document matches.')
      expect(explained.stdout).toContain(
        `PCR 8 after this digest was extended into it ${times} times, but the binding holds only after exactly one extend from reset`,
      )
      const json = await run([
        ...['initdata', 'explain', built, '--tee', 'vtpm', '--expected', pcr, '--json'],
      ])
      expect(causesOf(json)).toEqual(['vtpm-repeated-extend'])
    }
  })

  it('after another value was extended before or after the digest: no match, and explain says what can cause it', async () => {
    const digest = await digestOf(built)
    const once = await pcr8After(digest)
    const other = createHash('sha256').update('another component').digest()
    for (const order of [
      [other, digest],
      [digest, other],
    ]) {
      const pcr = await pcr8After(...order)
      const explained = await explain(built, pcr)
      expect(explained.code).toBe(5)
      expect(explained.stdout).not.toContain('The document matches.')
      expect(explained.stdout).toContain(
        'no simple slip explains it: the content differs, or\nPCR 8 was also extended with another value, before or after the digest',
      )
      expect(explained.stdout).toContain(
        `actual:   ${once}   (PCR 8 after one extend from reset with the sha256 of the document's exact bytes)`,
      )
    }
  })

  it('refuses a sha384 document: PCR 8 of the SHA-256 bank takes only a 32-byte digest', async () => {
    const document = parseInitdata(new Uint8Array(readFileSync(sha384Doc)))
    expect(document.algorithm).toBe('sha384')
    const refused = await run(['initdata', 'digest', sha384Doc, '--tee', 'vtpm'])
    expect(refused.code).toBe(5)
    expect(refused.stdout).toBe('')
    expect(refused.stderr).toContain(
      'a vTPM binds initdata by extending the SHA-256 PCR 8, which needs a 32-byte digest; this one has 48 bytes',
    )
    expect(refused.stderr).toContain('hint: use algorithm = "sha256"')
    expect(refused.stderr).toContain('code: ERR_INITDATA_VTPM_DIGEST_LENGTH')
    const json = await run(['initdata', 'digest', sha384Doc, '--tee', 'vtpm', '--json'])
    expect(json.code).toBe(5)
    expect(jsonError(json).code).toBe('ERR_INITDATA_VTPM_DIGEST_LENGTH')
    expect(codeOf(() => bindingFor('vtpm', 'sha384', document.digest))).toBe(
      'ERR_INITDATA_VTPM_DIGEST_LENGTH',
    )
    // The TPM's side: tpm2-tools will not extend the SHA-256 bank with 48 bytes either.
    await using tpm = await startSwtpm()
    await expect(
      tpm.tpm2('pcrextend', [`8:sha256=${bytesToHex(document.digest)}`]),
    ).rejects.toThrow(/Hex value too big for digest/)
    expect(await tpm.readPcr(8, 'sha256')).toEqual(new Uint8Array(32))
    const explained = await run([
      ...['initdata', 'explain', sha384Doc, '--tee', 'vtpm', '--expected', '00'.repeat(32)],
      '--json',
    ])
    expect(explained.code).toBe(5)
    expect(causesOf(explained)[0]).toBe('vtpm-digest-length')
  })
})
