/**
 * The copied vectors in testdata/ are intact (every file matches testdata/vectors/SHA256SUMS) and,
 * where the shared vector set sits beside the checkout, agree with it file for file; so are the
 * old release's databases in packages/kbs/testdata/ (every file but its README matches its
 * SHA256SUMS).
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const TESTDATA = fileURLToPath(new URL('../../../testdata/vectors/', import.meta.url))
const KBS_TESTDATA = fileURLToPath(new URL('../../kbs/testdata/', import.meta.url))
const SHARED_SUMS = fileURLToPath(new URL('../../../../shared/vectors/SHA256SUMS', import.meta.url))

/** `SHA256SUMS` lines as path → hex digest. */
function readSums(text: string): Map<string, string> {
  const sums = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line)
    if (match === null) throw new Error(`malformed SHA256SUMS line: ${JSON.stringify(line)}`)
    sums.set(match[2] ?? '', match[1] ?? '')
  }
  return sums
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesBelow(path) : [path]
  })
}

/** Every file below `dir` but `unlisted` is in its SHA256SUMS with its digest, and no other. */
function expectSumsHold(dir: string, unlisted: readonly string[]): void {
  const sums = readSums(readFileSync(join(dir, 'SHA256SUMS'), 'utf8'))
  const present = filesBelow(dir)
    .map((path) => relative(dir, path))
    .filter((path) => path !== 'SHA256SUMS' && !unlisted.includes(path))
    .sort()
  expect(present).toEqual([...sums.keys()].sort())
  for (const [path, digest] of sums) {
    const actual = createHash('sha256')
      .update(readFileSync(join(dir, path)))
      .digest('hex')
    expect(actual, path).toBe(digest)
  }
}

const ours = readSums(readFileSync(join(TESTDATA, 'SHA256SUMS'), 'utf8'))

describe('testdata/vectors', () => {
  it('every listed file is present with its digest, and no file is unlisted', () => {
    expectSumsHold(TESTDATA, [])
  })

  it.runIf(existsSync(SHARED_SUMS))('agrees with ../shared/vectors/SHA256SUMS', () => {
    const shared = readSums(readFileSync(SHARED_SUMS, 'utf8'))
    // The shared README is that folder's own description; ours is testdata/README.md.
    shared.delete('README.md')
    expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(shared))
  })
})

describe('packages/kbs/testdata', () => {
  it('every listed file is present with its digest, and no file but the README is unlisted', () => {
    expectSumsHold(KBS_TESTDATA, ['README.md'])
  })
})
