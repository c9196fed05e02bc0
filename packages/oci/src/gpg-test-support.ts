/**
 * Real GnuPG for tests: a throw-away GNUPGHOME with generated signing keys, and their exported
 * public keyrings (what a policy's `keyPath` / `keyData` hold).
 *
 * @module
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A generated key. */
export interface TestGpgKey {
  readonly email: string
  /** Primary key fingerprint, upper-case hex (what `--sign-by` takes). */
  readonly fingerprint: string
  /** `gpg --export` of the public key. */
  readonly publicKeyring: Uint8Array
}

/** A GNUPGHOME with keys. */
export interface TestGpgHome {
  readonly home: string
  /** Environment for child processes that sign (skopeo, gpg). */
  readonly env: NodeJS.ProcessEnv
  generateKey(name: string, keyType: 'ed25519' | 'rsa2048'): Promise<TestGpgKey>
  remove(): Promise<void>
}

/** Create a GNUPGHOME under the temp directory. */
export async function createGpgHome(): Promise<TestGpgHome> {
  const home = await mkdtemp(join(tmpdir(), 'initguard-gpg-'))
  const env = { ...process.env, GNUPGHOME: home }
  const gpg = (args: readonly string[], input?: string): Buffer =>
    execFileSync('gpg', ['--batch', '--no-tty', ...args], {
      env,
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
  return {
    home,
    env,
    async generateKey(name, keyType) {
      const email = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}@example.com`
      const algorithm =
        keyType === 'ed25519'
          ? 'Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign'
          : 'Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign'
      const spec = join(home, `${email}.spec`)
      await writeFile(
        spec,
        `%no-protection\n${algorithm}\nName-Real: ${name}\nName-Email: ${email}\nExpire-Date: 0\n%commit\n`,
      )
      gpg(['--gen-key', spec])
      const listing = gpg(['--with-colons', '--list-secret-keys', email]).toString('utf8')
      const fingerprint = /^fpr:+([0-9A-F]{40,64}):/m.exec(listing)?.[1]
      if (fingerprint === undefined) throw new Error(`gpg did not list a key for ${email}`)
      return { email, fingerprint, publicKeyring: new Uint8Array(gpg(['--export', email])) }
    },
    remove: () => rm(home, { recursive: true, force: true }),
  }
}
