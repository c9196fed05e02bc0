/**
 * The harness of the `initguard image` end-to-end tests: Debian's docker-registry holding one test
 * image (`reference`), a scratch directory, the options every run gives (`common`: the registry as
 * insecure, an empty registries.d and authfile), the CLI run in process, and the signature test
 * vectors. {@link useImageRegistry} starts and stops them for a test file.
 *
 * `registry`, `dir`, `reference` and `common` are live bindings (`let`), set in `beforeAll`: read
 * them inside tests and hooks, never at module load.
 *
 * @module
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Readable } from 'node:stream'
import { afterAll, beforeAll } from 'vitest'
import { RegistryClient } from '@initguard/oci'
import { pushTestImage, simpleTestImage } from '../../oci/src/oci-image-test-support.ts'
import { startRegistry, type TestRegistry } from '../../oci/src/registry-test-support.ts'
import { runCli } from './main.ts'

/** A CLI run: its exit code and output. */
export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Run the CLI in process; `terminal` says whether stderr is a terminal. */
export async function run(args: string[], terminal = false): Promise<Result> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (c: string | Uint8Array) => (stdout += Buffer.from(c).toString()) },
    stderr: {
      write: (c: string | Uint8Array) => (stderr += Buffer.from(c).toString()),
      isTTY: terminal,
    },
    stdin: Readable.from([]),
  })
  return { code, stdout, stderr }
}

export let registry: TestRegistry
export let dir: string
export let reference: string
export let common: string[]

/** Write `content` to `name` in the scratch directory; returns its path. */
export const write = (name: string, content: string): string => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

/** Start the registry with the test image for this test file, and remove it all afterwards. */
export function useImageRegistry(): void {
  beforeAll(async () => {
    registry = await startRegistry()
    dir = mkdtempSync(join(tmpdir(), 'initguard-cli-image-'))
    reference = `${registry.host}/apps/hello:v1`
    const client = new RegistryClient({ insecureRegistries: [registry.host] })
    await pushTestImage(client, `${registry.host}/apps/hello`, 'v1', simpleTestImage('cli hello'))
    const registriesD = join(dir, 'registries.d')
    common = [
      '--insecure-registry',
      registry.host,
      '--registries-d',
      registriesD,
      '--authfile',
      write('auth.json', '{"auths":{}}'),
    ]
    mkdirSync(registriesD)
  }, 60_000)

  afterAll(async () => {
    await registry.stop()
    await rm(dir, { recursive: true, force: true })
  })
}

export const VECTORS = fileURLToPath(
  new URL('../../../testdata/vectors/image-signatures/', import.meta.url),
)
export const COSIGN_PUB = join(VECTORS, 'cosign.pub')
export const REKOR_PUB = join(VECTORS, 'rekor.pub')
export const PKI_ROOTS = join(VECTORS, 'pki_root_crts.pem')

/** A policy that accepts anything under `<host>/apps` and rejects the rest. */
export const allowApps = (host: string): string =>
  JSON.stringify({
    default: [{ type: 'reject' }],
    transports: { docker: { [`${host}/apps`]: [{ type: 'insecureAcceptAnything' }] } },
  })
