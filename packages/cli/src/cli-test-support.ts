/**
 * Running the CLI in-process for tests: `runCli` with captured output and an empty standard input.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { resolveKbsServerConfig, startKbs, type RunningKbs } from '@initguard/kbs'
import {
  buildDcapCollateral,
  buildSnpReport,
  buildTdxQuote,
  createAmdTestPki,
  createIntelTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
  type AmdProduct,
  type IntelTestPki,
  type SnpReportFields,
  type TdxQuoteFields,
} from '@initguard/tee-simulator'
import { runCli } from './main.ts'

/** What one in-process run gave. */
export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** Standard output as written, byte for byte. */
  readonly stdoutBytes: Buffer
}

/**
 * Run `initguard ARGS` in-process and capture its exit code and output; standard input is `stdin`
 * (default empty).
 */
export async function runInProcess(
  args: readonly string[],
  stdin: string | Uint8Array = '',
): Promise<CliRun> {
  const out: Buffer[] = []
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (c: string | Uint8Array) => out.push(Buffer.from(c)) },
    stderr: { write: (c: string | Uint8Array) => (stderr += Buffer.from(c).toString()) },
    stdin: Readable.from(stdin.length === 0 ? [] : [Buffer.from(stdin)]),
  })
  const stdoutBytes = Buffer.concat(out)
  return { code, stdout: stdoutBytes.toString(), stderr, stdoutBytes }
}

/** Expect `result` to have exited `exit` with `code` on standard error. */
export function expectRefused(
  result: { code: number; stderr: string },
  exit: number,
  code: string,
): void {
  expect(result.code, result.stderr).toBe(exit)
  expect(result.stderr).toContain(`code: ${code}`)
}

/** Values `--min-firmware` must refuse: not three decimal bytes joined by dots. */
export const MALFORMED_FIRMWARE_VERSIONS: readonly string[] = [
  '1',
  '1.55',
  '1.55.',
  '1..29',
  '1.55.29.0',
  '1.55.256',
  '256.0.0',
  '1.-55.29',
  '+1.55.29',
  ' 1.55.29',
  '1.55.29 ',
  '1. 55.29',
  '1,55,29',
  '0x1.55.29',
  'v1.55.29',
  '1.55.1e1',
]

/** The `error` object of a `--json` run that failed. */
export function jsonError(run: CliRun): {
  code: string
  message: string
  hint?: string
  details: Record<string, unknown>
} {
  return (
    JSON.parse(run.stdout) as {
      error: { code: string; message: string; hint?: string; details: Record<string, unknown> }
    }
  ).error
}

const BIN = fileURLToPath(new URL('../bin/initguard.js', import.meta.url))

/** The bundled examples the README's tour starts from (`packages/cli/examples/`). */
export const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url))

/** The real vendor evidence (`testdata/vectors/`). */
export const VECTORS = fileURLToPath(new URL('../../../testdata/vectors/', import.meta.url))

/** `evidence verify` of the real Milan v3 report (its VCEK, a time inside its validity): exit 0. */
export const REAL_SNP_VERIFY: readonly string[] = [
  'evidence',
  'verify',
  join(VECTORS, 'snp/milan-v3-hostdata/report.bin'),
  '--certs',
  join(VECTORS, 'snp/milan-v3-hostdata/vcek.pem'),
  '--at',
  '2026-06-01T00:00:00Z',
]

/** `evidence verify` of the real VLEK-signed Milan report with its VLEK, inside the VLEK's window. */
export const REAL_VLEK_VERIFY: readonly string[] = [
  'evidence',
  'verify',
  join(VECTORS, 'snp/milan-v3-vlek/report.bin'),
  '--certs',
  join(VECTORS, 'snp/milan-v3-vlek/vlek.der'),
  '--at',
  '2025-06-01T00:00:00Z',
]

/**
 * `evidence verify` arguments for a report built from `fields` and signed by a fresh test PKI's
 * VCEK, its files (report, VCEK, roots) written into `dir`; verified at 2025-01-01.
 */
export function syntheticSnpVerify(
  dir: string,
  product: AmdProduct,
  fields: SnpReportFields,
): string[] {
  const notBefore = new Date('2024-01-01T00:00:00Z')
  const notAfter = new Date('2034-01-01T00:00:00Z')
  const pki = createAmdTestPki({ product, notBefore, notAfter })
  const vcek = pki.issueVcek({
    chipId: defaultSnpReportFields(product).chipId,
    tcb: defaultSnpTcb(product),
    notBefore,
    notAfter,
  })
  writeFileSync(join(dir, 'report.bin'), buildSnpReport({ product, ...fields }, vcek.privateKey))
  writeFileSync(join(dir, 'vcek.der'), vcek.der)
  writeFileSync(join(dir, 'roots.pem'), pki.vcekChainPem)
  return [
    'evidence',
    'verify',
    join(dir, 'report.bin'),
    '--certs',
    join(dir, 'vcek.der'),
    '--trust-root',
    join(dir, 'roots.pem'),
    '--at',
    '2025-01-01T00:00:00Z',
  ]
}

/**
 * `evidence verify` arguments for a TDX quote built from `fields` and signed by a fresh Intel test
 * PKI's platform PCK, its files (quote, collateral, root) written into `dir`; verified at
 * 2026-11-29, inside the collateral's window. The PKI comes back too, for its root's fingerprint.
 */
export function syntheticTdxVerify(
  dir: string,
  fields: TdxQuoteFields,
): { readonly args: string[]; readonly pki: IntelTestPki } {
  const notBefore = new Date('2024-01-01T00:00:00Z')
  const notAfter = new Date('2034-01-01T00:00:00Z')
  const pki = createIntelTestPki({ notBefore, notAfter })
  const pck = pki.issuePck({ ca: 'platform', notBefore, notAfter })
  writeFileSync(join(dir, 'quote.dat'), buildTdxQuote(fields, pck))
  writeFileSync(
    join(dir, 'collateral.json'),
    buildDcapCollateral({
      pki,
      tee: 'tdx',
      issueDate: new Date('2026-11-01T00:00:00Z'),
      nextUpdate: new Date('2026-12-31T00:00:00Z'),
    }),
  )
  writeFileSync(join(dir, 'intel-root.pem'), pki.root.pem)
  const args = [
    ...['evidence', 'verify', join(dir, 'quote.dat')],
    ...['--collateral', join(dir, 'collateral.json')],
    ...['--intel-root', join(dir, 'intel-root.pem'), '--at', '2026-11-29T00:00:00.000Z'],
  ]
  return { args, pki }
}

/** `evidence verify` of the real TDX v4 quote with its collateral, inside its window: exit 0. */
export const REAL_TDX_VERIFY: readonly string[] = [
  'evidence',
  'verify',
  join(VECTORS, 'tdx/v4-b/quote.dat'),
  '--collateral',
  join(VECTORS, 'tdx/v4-b/collateral.json'),
  '--at',
  '2025-07-01T00:00:00Z',
]

/** `initguard initdata build` of the examples' `aa.toml`, `cdh.toml` and `policy.rego`, then `extra`. */
export function exampleBuildArgs(...extra: readonly string[]): string[] {
  return [
    ...[
      'initdata',
      'build',
      '--aa',
      join(EXAMPLES, 'aa.toml'),
      '--cdh',
      join(EXAMPLES, 'cdh.toml'),
    ],
    ...['--policy', join(EXAMPLES, 'policy.rego'), ...extra],
  ]
}

/** A `kbs serve` process started by {@link spawnKbsServe}, listening. */
export interface SpawnedKbs {
  readonly server: ChildProcess
  /** `https://127.0.0.1:PORT`, from its start-up line. */
  readonly url: string
  /** Its standard error so far. */
  readonly log: () => string
}

/** Run `initguard kbs serve ARGS` as a real process (the built CLI); resolves once it listens. */
export async function spawnKbsServe(args: readonly string[]): Promise<SpawnedKbs> {
  const server = spawn(process.execPath, [BIN, 'kbs', 'serve', ...args])
  let serverLog = ''
  const url = await new Promise<string>((resolve, reject) => {
    server.stderr.on('data', (chunk: Buffer) => {
      serverLog += chunk.toString()
      const match = /listening on (https?:\/\/127\.0\.0\.1:\d+)/.exec(serverLog)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    server.on('exit', (code) => {
      reject(new Error(`kbs serve exited with ${String(code)}: ${serverLog}`))
    })
  })
  return { server, url, log: () => serverLog }
}

/** An init-data document whose `aa.toml` names a KBS on loopback, as the README's walk-through. */
export const KBS_WALKTHROUGH_INITDATA =
  'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = \'\'\'\n[token_configs.kbs]\nurl = "https://127.0.0.1:8443"\n\'\'\'\n'

/** `kbs keygen` to `<base>.key` (private) and `<base>.pub`; throws when it fails. */
export async function kbsKeygen(base: string): Promise<void> {
  const run = await runInProcess([
    ...['kbs', 'keygen', '--out-private', `${base}.key`, '--out-public', `${base}.pub`],
  ])
  if (run.code !== 0) throw new Error(`kbs keygen failed: ${run.stderr}`)
}

/** `sim init` into `simDir`; throws when it fails. */
export async function simInit(simDir: string): Promise<void> {
  const run = await runInProcess(['sim', 'init', '--sim-dir', simDir])
  if (run.code !== 0) throw new Error(`sim init failed: ${run.stderr}`)
}

/** A KBS started in-process by {@link startSimKbs}, with the CLI's admin and guest calls at hand. */
export interface InProcessSimKbs {
  readonly kbs: RunningKbs
  /** A path in the test's temporary directory (`initdata.toml` holds {@link KBS_WALKTHROUGH_INITDATA}). */
  readonly at: (name: string) => string
  /** `kbs admin --url … --ca … --admin-key … ARGS`. */
  readonly admin: (...args: string[]) => Promise<CliRun>
  /**
   * `kbs get-resource` of PATH as the simulator's guest of `tee` (SEV-SNP unless given) launched
   * with `initdata.toml`.
   */
  readonly getResource: (path: string, tee?: 'snp' | 'tdx') => Promise<CliRun>
  /** Close the KBS and remove the directory. */
  readonly close: () => Promise<void>
}

/**
 * A KBS in-process (HTTPS with its generated certificate, SQLite, offline) that trusts a fresh TEE
 * simulator, in a new temporary directory named after `prefix`, with an admin key pair.
 */
export async function startSimKbs(
  prefix: string,
  flags: { readonly adminAudience?: string } = {},
  /** A configuration file's contents (as TOML would give them), e.g. `{ audit: { … } }`. */
  document?: Readonly<Record<string, unknown>>,
  /** The KBS's clock (the real one unless given). */
  clock?: () => Date,
): Promise<InProcessSimKbs> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const at = (name: string): string => join(dir, name)
  await writeFile(at('initdata.toml'), KBS_WALKTHROUGH_INITDATA)
  await simInit(at('sim'))
  await kbsKeygen(at('admin'))
  const config = resolveKbsServerConfig(
    {
      dataDir: at('kbs-data'),
      listen: '127.0.0.1:0',
      adminPublicKey: [at('admin.pub')],
      trustSim: at('sim'),
      ...flags,
    },
    document === undefined ? undefined : { document, path: at('kbs.toml') },
  )
  const kbs = await startKbs(config, {
    online: false,
    logger: { level: 'silent' },
    ...(clock === undefined ? {} : { clock }),
  })
  const cert = at('kbs-data/tls/kbs-cert.pem')
  return {
    kbs,
    at,
    admin: (...args) =>
      runInProcess([
        ...['kbs', 'admin', '--url', kbs.url, '--ca', cert, '--admin-key', at('admin.key')],
        ...args,
      ]),
    getResource: (path, tee = 'snp') =>
      runInProcess([
        ...['kbs', 'get-resource', '--url', kbs.url, '--pin', cert, '--sim-dir', at('sim')],
        ...['--tee', tee, '--initdata', at('initdata.toml'), '--path', path],
      ]),
    close: async () => {
      await kbs.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
