/**
 * Image policy: containers-policy.json in both dialects (parsed, then deciding the four signed
 * fixture images under it), the image policy and registry rules in a CDH `cdh.toml`, registries.d
 * YAML, Docker references and image manifests.
 *
 * @module
 */
import { parseConfigToml } from '@initguard/initdata'
import {
  cdhImageSources,
  cdhRegistryRules,
  parseDockerImageReference,
  parseImagePolicy,
  type PolicyDialect,
} from '@initguard/image-policy'
import { parseManifest, parseRegistriesD } from '@initguard/oci'
import { madeSeed, repoFile, text, vectorSeeds } from '../corpus.ts'
import type { FuzzSeed, FuzzTarget } from '../engine.ts'
import {
  FIXTURE_IMAGES,
  decideFixture,
  fixtureContext,
  fixtureFiles,
  fixturePolicy,
  signatureOf,
} from './image-fixtures.ts'

const REGISTRIES_D = `default-docker:
  lookaside: file:///var/lib/containers/sigstore
docker:
  registry.example.com/team:
    lookaside: https://sigs.example.com/team
    use-sigstore-attachments: true
  localhost:5000:
    lookaside-staging: file:///tmp/staging
`

export const policyTarget: FuzzTarget = {
  name: 'policy',
  description:
    'policy.json (both dialects, with decisions), cdh.toml, registries.d, references, manifests',
  prepare: async () => {
    const context = await fixtureContext()
    const images = await Promise.all(
      FIXTURE_IMAGES.map(async (image) => ({ image, ...(await fixtureFiles(image)) })),
    )
    const decideAll = async (input: Uint8Array, dialect: PolicyDialect): Promise<void> => {
      const policy = parseImagePolicy(input, { dialect })
      for (const { image, manifest, signature } of images)
        await decideFixture(policy, image, manifest, [signatureOf(signature)], context)
    }
    const cdh = text(await repoFile('packages/cli/examples/cdh.toml'))
    const seeds: FuzzSeed[] = [
      ...(await vectorSeeds('policy', 'json', ['image-signatures/policy.json'])),
      madeSeed('policy', 'json', fixturePolicy(), 'a policy accepting the signed fixtures'),
      madeSeed(
        'image-rs-policy',
        'json',
        fixturePolicy(),
        'a policy accepting the signed fixtures',
      ),
      madeSeed('cdh-toml', 'toml', cdh, 'packages/cli/examples/cdh.toml'),
      madeSeed(
        'registries-d',
        'text',
        REGISTRIES_D,
        'a registries.d file as in containers-registries.d(5)',
      ),
      ...(await vectorSeeds('manifest', 'json', [
        'image-signatures/image.manifest.json',
        'image-signatures/v2s1-invalid-signatures.manifest.json',
        'image-signatures/dir-img-cosign-valid/manifest.json',
      ])),
    ]
    for (const image of FIXTURE_IMAGES)
      seeds.push(madeSeed('reference', 'text', image.reference, 'fixture reference'))
    return {
      seeds,
      entries: {
        policy: (input) => decideAll(input, 'containers-image'),
        'image-rs-policy': (input) => decideAll(input, 'image-rs'),
        'cdh-toml': (input) => {
          const source = text(input)
          cdhImageSources(source, { kbs: true })
          return cdhRegistryRules(
            parseConfigToml(source, {
              code: 'ERR_FUZZ_CDH_TOML',
              what: 'cdh.toml',
              hint: 'fix the TOML',
            }),
          )
        },
        'registries-d': (input) => parseRegistriesD([{ name: 'fuzzed.yaml', text: text(input) }]),
        reference: (input) => parseDockerImageReference(text(input)),
        manifest: (input) => parseManifest(input),
      },
    }
  },
}
