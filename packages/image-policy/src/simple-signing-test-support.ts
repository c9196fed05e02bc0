/**
 * Test support (not built, not exported): a throw-away GnuPG home driven through the real `gpg`
 * CLI, so simple-signing tests verify what gpg and skopeo really write. Keys are made with
 * `--faked-system-time` in 2019 and data signed in 2020, so every test passes its own `now` and
 * nothing depends on the clock.
 *
 * @module
 */
// Test code only: this file is excluded from the package build (tsconfig `*-test-support.ts`).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** When test keys are made: before every signature. */
export const KEY_TIME = '20190101T000000'
/** When test data is signed, unless a test says otherwise. */
export const SIGN_TIME = '20200101T120000'
/** A verification time shortly after {@link SIGN_TIME}. */
export const NOW: Date = new Date('2020-01-02T00:00:00Z')

/** A containers-signature(5) payload to sign. */
export const PAYLOAD =
  '{"critical":{"identity":{"docker-reference":"quay.io/a/b:v1"},"image":{"docker-manifest-digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"type":"atomic container signature"},"optional":{"creator":"test"}}'

/** The InitguardError a promise rejects with; fails the test on anything else. */
export { rejected as thrown } from '@initguard/testkit'

/** What `gpg --verify --status-fd` said about one signature: GOODSIG, BADSIG, EXPSIG, EXPKEYSIG, REVKEYSIG, ERRSIG… */
export type GpgVerdict = string

/** A temporary GnuPG home. Call {@link TestGpg.dispose} when done. */
export class TestGpg {
  readonly home: string

  constructor() {
    this.home = mkdtempSync(join(tmpdir(), 'ig-gpg-'))
  }

  /** Run gpg in this home; throws with gpg's stderr when it fails (unless `allowFailure`). */
  run(
    args: readonly string[],
    options: { input?: string | Uint8Array; at?: string; allowFailure?: boolean } = {},
  ): { status: number; stdout: Buffer; stderr: string } {
    const time = options.at === undefined ? [] : ['--faked-system-time', `${options.at}!`]
    const result = spawnSync(
      'gpg',
      ['--homedir', this.home, '--batch', '--yes', ...time, ...args],
      {
        input: options.input ?? '',
        maxBuffer: 16 * 1024 * 1024,
      },
    )
    const status = result.status ?? -1
    const stderr = result.stderr.toString()
    if (status !== 0 && options.allowFailure !== true) {
      throw new Error(`gpg ${args.join(' ')} failed (${status}): ${stderr}`)
    }
    return { status, stdout: result.stdout, stderr }
  }

  /** Generate a key without passphrase; returns its primary fingerprint. */
  genKey(uid: string, algo: string, usage: string, expire = '0', at = KEY_TIME): string {
    this.run(['--passphrase', '', '--quick-gen-key', uid, algo, usage, expire], { at })
    return this.fingerprints(uid)[0] ?? ''
  }

  /** Add a subkey; returns its fingerprint. */
  addSubkey(fingerprint: string, algo: string, usage: string, expire = '0', at = KEY_TIME): string {
    this.run(['--passphrase', '', '--quick-add-key', fingerprint, algo, usage, expire], { at })
    return this.fingerprints(fingerprint).at(-1) ?? ''
  }

  /** Primary then subkey fingerprints of a key. */
  fingerprints(which: string): string[] {
    const out = this.run(['--with-colons', '--list-keys', which]).stdout.toString()
    return out
      .split('\n')
      .filter((l) => l.startsWith('fpr:'))
      .map((l) => l.split(':')[9] ?? '')
  }

  /** `gpg --export` (binary, or armored). */
  exportKeys(which: readonly string[], armor = false): Uint8Array {
    return new Uint8Array(this.run(['--export', ...(armor ? ['--armor'] : []), ...which]).stdout)
  }

  /** `gpg --export-secret-keys`. */
  exportSecretKeys(which: string, armor = false): Uint8Array {
    return new Uint8Array(
      this.run(['--export-secret-keys', ...(armor ? ['--armor'] : []), which]).stdout,
    )
  }

  /** `gpg --sign` (a compressed signed message, as skopeo writes) with the given extra options. */
  sign(
    payload: Uint8Array | string,
    signers: readonly string[],
    extra: readonly string[] = [],
    at = SIGN_TIME,
  ): Uint8Array {
    const users = signers.flatMap((s) => ['-u', s])
    return new Uint8Array(this.run([...users, ...extra, '--sign'], { input: payload, at }).stdout)
  }

  /** Revoke a primary key with the revocation certificate gpg wrote when it made the key. */
  revokeKey(fingerprint: string, at: string): void {
    const path = join(this.home, 'openpgp-revocs.d', `${fingerprint}.rev`)
    // gpg prefixes the armor line with ':' so the certificate is not imported by accident.
    const cert = readFileSync(path, 'utf8').replace(/^:-----BEGIN/m, '-----BEGIN')
    writeFileSync(path, cert)
    this.run(['--import', path], { at })
  }

  /** Revoke subkey number `index` (1-based) through `--edit-key` batch commands. */
  revokeSubkey(fingerprint: string, index: number, at: string): void {
    this.run(['--command-fd', '0', '--edit-key', fingerprint], {
      input: `key ${index}\nrevkey\ny\n0\n\ny\nsave\n`,
      at,
    })
  }

  /** The oracle: gpg's verdict on a signed message at time `at` (status line keyword). */
  verdict(blob: Uint8Array, at: string): GpgVerdict {
    const { stdout } = this.run(['--status-fd', '1', '--verify'], {
      input: blob,
      at,
      allowFailure: true,
    })
    const line = stdout
      .toString()
      .split('\n')
      .find((l) => /^\[GNUPG:\] (GOODSIG|BADSIG|EXPSIG|EXPKEYSIG|REVKEYSIG|ERRSIG|NODATA)/.test(l))
    return line?.split(' ')[1] ?? 'NONE'
  }

  /** Offset of the first packet with `tag` in an uncompressed message, from `gpg --list-packets`. */
  offsetOf(blob: Uint8Array, tag: number): number {
    const out = this.run(['--list-packets'], { input: blob, allowFailure: true }).stdout.toString()
    const match = new RegExp(`# off=(\\d+) ctb=\\w+ tag=${tag} `).exec(out)
    if (match === null) throw new Error(`no packet with tag ${tag}`)
    return Number(match[1])
  }

  /** Stop this home's gpg-agent and delete the home. */
  dispose(): void {
    spawnSync('gpgconf', ['--homedir', this.home, '--kill', 'all'])
    rmSync(this.home, { recursive: true, force: true })
  }
}
