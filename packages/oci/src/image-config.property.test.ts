/**
 * Property tests of `parseDiffIds`, the reader of the image config's `rootfs.diff_ids` (untrusted
 * bytes from the registry). Any bytes are a list of sha256 layer digests, one per layer, or
 * `ERR_IMAGE_CONFIG`; never another exception, and never a value the config does not spell.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jsonMemberAt, jsonMemberPaths, outcome, withJsonMember } from '@initguard/testkit'
import { parseDiffIds } from './image-pull.ts'

const encode = (value: unknown, space?: number): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(value, null, space))

/** The diff_ids `parseDiffIds` reads, or the category and code of its refusal. */
function read(bytes: Uint8Array, layers: number): string[] | string {
  let value: string[] = []
  const result = outcome(() => {
    value = parseDiffIds(bytes, layers)
  })
  return result === 'accepted' ? value : result
}

/** The one refusal: a config is untrusted input, so every refusal is `malformed`. */
const REFUSED = 'malformed ERR_IMAGE_CONFIG'

/** The only form the unpacker can match: it hashes every layer with sha256. */
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/u

const digest = fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256:${h}`)
const text = fc.string({ maxLength: 12 })
/** An image config as docker and buildah write it (OCI image-spec config.md). */
const config = fc.record(
  {
    created: fc.constant('2024-01-02T03:04:05Z'),
    author: text,
    architecture: fc.constantFrom('amd64', 'arm64'),
    os: fc.constant('linux'),
    config: fc.record(
      {
        Env: fc.array(text, { maxLength: 2 }),
        Cmd: fc.array(text, { maxLength: 2 }),
        WorkingDir: text,
        Labels: fc.dictionary(text, text, { maxKeys: 2 }),
      },
      { requiredKeys: [] },
    ),
    rootfs: fc.record({
      type: fc.constant('layers'),
      diff_ids: fc.array(digest, { maxLength: 4 }),
    }),
    history: fc.array(fc.record({ created_by: text, empty_layer: fc.boolean() }), {
      maxLength: 2,
    }),
  },
  { requiredKeys: ['architecture', 'os', 'rootfs'] },
)

describe('parseDiffIds properties', () => {
  it('reads back the diff_ids of any well-formed config, however it is spaced', () => {
    fc.assert(
      fc.property(config, fc.constantFrom(undefined, 1, 4), (document, space) => {
        const layers = document.rootfs.diff_ids.length
        expect(parseDiffIds(encode(document, space), layers)).toEqual(document.rootfs.diff_ids)
      }),
      { numRuns: 200 },
    )
  })

  it('refuses a layer count that differs from the list', () => {
    fc.assert(
      fc.property(config, fc.integer({ min: 0, max: 300 }), (document, layers) => {
        fc.pre(layers !== document.rootfs.diff_ids.length)
        expect(read(encode(document), layers)).toBe(REFUSED)
      }),
      { numRuns: 200 },
    )
  })

  it('throws nothing but ERR_IMAGE_CONFIG for any bytes, text or JSON', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.jsonValue().map((v) => encode(v)),
      fc.string().map((s) => new TextEncoder().encode(s)),
      // Nesting far past the JSON depth bound, in rootfs or at the top.
      fc
        .integer({ min: 1, max: 5000 })
        .map((depth) =>
          new TextEncoder().encode(
            `{"rootfs":{"diff_ids":${'['.repeat(depth)}${']'.repeat(depth)}}}`,
          ),
        ),
      fc.jsonValue({ maxDepth: 2 }).map((v) => encode({ rootfs: { diff_ids: v } })),
      fc.jsonValue({ maxDepth: 2 }).map((v) => encode({ rootfs: v })),
    )
    fc.assert(
      fc.property(bytes, fc.nat(4), (b, layers) => {
        const result = read(b, layers)
        if (typeof result === 'string') expect(result).toBe(REFUSED)
        else {
          expect(result).toHaveLength(layers)
          for (const id of result) expect(id).toMatch(SHA256_DIGEST)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('a valid config with any one member replaced or removed: read exactly, or refused', () => {
    const mutated = config
      .filter((document) => document.rootfs.diff_ids.length > 0)
      .chain((document) =>
        fc.tuple(
          fc.constant(document),
          fc.constantFrom(...jsonMemberPaths(document)),
          fc.option(
            fc.oneof(
              fc.jsonValue({ maxDepth: 2 }),
              // Near misses of a digest: other algorithms, upper case, short, padded.
              digest.map((d) => d.toUpperCase()),
              digest.map((d) => d.replace('sha256', 'sha512')),
              digest.map((d) => d.slice(0, -1)),
              digest.map((d) => ` ${d}`),
              fc.constantFrom('', 'sha256:', `sha512:${'a'.repeat(128)}`),
            ),
            { nil: undefined },
          ),
        ),
      )
    fc.assert(
      fc.property(mutated, ([document, path, replacement]) => {
        const changed = withJsonMember(document, path, replacement)
        const layers = document.rootfs.diff_ids.length
        const result = read(encode(changed), layers)
        if (typeof result === 'string') {
          expect(result).toBe(REFUSED)
          return
        }
        // Whatever is accepted is exactly the list the changed config spells, and every element
        // is a digest the unpacker can compare: nothing coerced, defaulted or dropped.
        expect(result).toEqual(jsonMemberAt(changed, ['rootfs', 'diff_ids']))
        for (const id of result) expect(id).toMatch(SHA256_DIGEST)
      }),
      { numRuns: 400 },
    )
  })
})
