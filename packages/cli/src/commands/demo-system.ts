/**
 * The demo's system: a TEE simulator, a KBS (`initguard kbs serve`, a child process, HTTPS with
 * its generated certificate, SQLite), the initdata document that names that KBS and pins its
 * certificate, and the workload and secret registered with `kbs admin`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { bytesToHex } from '@initguard/core'
import { renderInitdata } from '@initguard/initdata'
import { SIMULATOR_SNP_MEASUREMENT_HEX, type TestKeyPair } from '@initguard/tee-simulator'
import { startInitguard, type DemoChild } from './demo-child-process.ts'
import { EXAMPLES } from './demo-host-steps.ts'
import { demoCdhToml, newReleaseKey } from './demo-image-policy.ts'
import type { Narrative } from './demo-narrative.ts'

/** The resource the workload may receive, and the secret stored there. */
export const DEMO_SECRET_PATH = 'default/demo/db-password'

/** What one in-process `initguard` run gave. */
export interface InitguardRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Run `initguard ARGS` in this process (the short admin and simulator commands), capturing its
 * output. The CLI is imported when first needed: it is this module's own entry point.
 */
export async function initguardHere(args: readonly string[]): Promise<InitguardRun> {
  const { runCli } = await import('../main.ts')
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (chunk: string | Uint8Array) => (stdout += Buffer.from(chunk).toString()) },
    stderr: { write: (chunk: string | Uint8Array) => (stderr += Buffer.from(chunk).toString()) },
    stdin: Readable.from([]),
  })
  return { code, stdout, stderr }
}

/** The first line of an error a command printed (its message), for a result line. */
export const firstLine = (text: string): string =>
  text.split('\n').find((line) => line.trim() !== '') ?? '(no output)'

/** The running system the guests are launched against. */
export interface DemoSystem {
  readonly simDir: string
  readonly kbs: DemoChild
  readonly url: string
  /** The document the workload is registered with (its aa.toml/cdh.toml pin the KBS). */
  readonly document: string
  readonly documentText: string
  readonly releaseKey: TestKeyPair
  /** The secret stored at {@link DEMO_SECRET_PATH}. */
  readonly secret: Uint8Array
  /** `initguard kbs admin …` against this KBS, in-process. */
  admin(...args: string[]): Promise<InitguardRun>
}

/**
 * Step: start the simulator and the KBS, write the document naming the KBS, register the workload
 * and its secret. Undefined when a part failed (already reported): the guests cannot run then.
 */
export async function startDemoSystem(
  story: Narrative,
  out: string,
): Promise<DemoSystem | undefined> {
  story.step('The system: a TEE simulator and a key broker (KBS), and the workload registered')
  const at = (name: string): string => join(out, name)
  const simDir = at('sim')
  const ran = async (what: string, args: string[]): Promise<InitguardRun | undefined> => {
    const run = await initguardHere(args)
    if (run.code === 0) return run
    story.fail(`${what}: exit ${run.code}: ${firstLine(run.stderr)}`)
    return undefined
  }
  if ((await ran('sim init', ['sim', 'init', '--sim-dir', simDir])) === undefined) return undefined
  story.pass(`sim init: a TEE simulator in ${simDir} (its own roots, trusted only where given)`)
  const keygen = ['--out-private', at('admin.key'), '--out-public', at('admin.pub')]
  if ((await ran('kbs keygen', ['kbs', 'keygen', ...keygen])) === undefined) return undefined
  story.pass('kbs keygen: an Ed25519 admin key pair (admin.key, admin.pub)')

  const started = await startInitguard(
    [
      ...['kbs', 'serve', '--data-dir', at('kbs'), '--listen', '127.0.0.1:0'],
      ...['--admin-public-key', at('admin.pub'), '--trust-sim', simDir],
    ],
    { ready: /listening on (https:\/\/127\.0\.0\.1:\d+)/, logFile: at('kbs.log') },
  )
  if (started.kind === 'exited') {
    story.fail(`kbs serve exited with ${started.code}: ${firstLine(started.child.output())}`)
    return undefined
  }
  const url = started.match[1] ?? ''
  const certPath = at('kbs/tls/kbs-cert.pem')
  const certificatePem = await readFile(certPath, 'utf8')
  const pin = /TLS SPKI pin \(SHA-256, base64\): (\S+)/.exec(started.child.output())?.[1] ?? '?'
  story.pass(`kbs serve: a child process (pid ${started.child.pid}) serving HTTPS at ${url}`)
  story.detail(`its generated certificate kbs/tls/kbs-cert.pem, SPKI pin ${pin}; log: kbs.log`)

  const releaseKey = newReleaseKey()
  const kbsTable = { url, certificatePem }
  const documentText = new TextDecoder().decode(
    renderInitdata({
      algorithm: 'sha384',
      data: {
        'aa.toml': `[token_configs.kbs]\nurl = "${url}"\ncert = '''\n${certificatePem.trim()}\n'''\n`,
        'cdh.toml': demoCdhToml(kbsTable, releaseKey),
        'policy.rego': await readFile(join(EXAMPLES, 'policy.rego'), 'utf8'),
      },
    }),
  )
  const document = at('initdata-kbs.toml')
  await writeFile(document, documentText, { mode: 0o600 })
  story.pass(
    'initdata-kbs.toml: aa.toml and cdh.toml name that KBS and pin its certificate; cdh.toml carries the image policy',
  )

  const admin = (...args: string[]): Promise<InitguardRun> =>
    initguardHere([
      ...['kbs', 'admin', '--url', url, '--ca', certPath, '--admin-key', at('admin.key')],
      ...args,
    ])
  const put = await admin(
    ...['workload', 'put', '--name', 'demo', '--tee', 'snp', '--initdata', document],
    ...['--resource', 'default/demo/*', '--snp-measurement', SIMULATOR_SNP_MEASUREMENT_HEX],
  )
  if (!story.check(put.code === 0, 'kbs admin workload put demo', firstLine(put.stderr)))
    return undefined
  story.detail(
    `accepts: initdata-kbs.toml, SEV-SNP MEASUREMENT ${SIMULATOR_SNP_MEASUREMENT_HEX.slice(0, 16)}… (the simulator's), resources default/demo/*`,
  )
  const secret = new TextEncoder().encode(`demo-db-password-${bytesToHex(randomBytes(6))}`)
  await mkdir(at('secrets'), { recursive: true, mode: 0o700 })
  await writeFile(at('secrets/db-password'), secret, { mode: 0o600 })
  const stored = await admin(
    ...['resource', 'put', '--path', DEMO_SECRET_PATH, '--file', at('secrets/db-password')],
  )
  if (
    !story.check(
      stored.code === 0,
      `kbs admin resource put ${DEMO_SECRET_PATH}`,
      firstLine(stored.stderr),
    )
  )
    return undefined
  return {
    simDir,
    kbs: started.child,
    url,
    document,
    documentText,
    releaseKey,
    secret,
    admin,
  }
}
