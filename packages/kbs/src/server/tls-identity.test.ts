import { X509Certificate } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { rejected } from '@initguard/testkit'
import { buildKbsApp } from './app.ts'
import { testAdminKey } from './admin-auth-test-support.ts'
import { resolveKbsServerConfig } from './config.ts'
import { listenKbs } from './listen.ts'
import { createKbsServices } from '../service/kbs-services.ts'
import {
  GENERATED_TLS_FILES,
  ensureGeneratedTlsIdentity,
  loadTlsIdentity,
  spkiPin,
} from './tls-identity.ts'

const now = new Date('2026-06-01T12:00:00Z')
const dirs: string[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kbs-tls-'))
  dirs.push(dir)
  return dir
}

describe('the generated TLS identity', () => {
  it('is made on first run (key 0600), reused afterwards with the same pin', async () => {
    const dir = await dataDir()
    const first = await ensureGeneratedTlsIdentity(dir, 'kbs.example', now)
    expect(first.generated).toBe(true)
    expect((await stat(join(dir, GENERATED_TLS_FILES.key))).mode & 0o777).toBe(0o600)
    const certificate = new X509Certificate(first.certPem)
    expect(certificate.subjectAltName).toBe(
      'DNS:localhost, DNS:kbs.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    )
    expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    expect(first.spkiPin).toBe(spkiPin(certificate))
    expect(first.spkiPin).toMatch(/^[A-Za-z0-9+/]{43}=$/)
    const second = await ensureGeneratedTlsIdentity(dir, 'kbs.example', now)
    expect(second.generated).toBe(false)
    expect(second.spkiPin).toBe(first.spkiPin)
    expect(second.certPem).toBe(first.certPem)
  })

  it('names an IP listen host, and warns when a reused certificate does not name the host', async () => {
    const dir = await dataDir()
    const made = await ensureGeneratedTlsIdentity(dir, '10.1.2.3', now)
    expect(made.subjectAltName).toContain('IP Address:10.1.2.3')
    const reused = await ensureGeneratedTlsIdentity(dir, 'other.example', now)
    expect(reused.warnings.join()).toMatch(/does not name the listen host other.example/)
  })

  it('refuses a half-made identity and a key readable by others', async () => {
    const dir = await dataDir()
    await ensureGeneratedTlsIdentity(dir, 'localhost', now)
    for (const mode of [0o644, 0o620]) {
      await chmod(join(dir, GENERATED_TLS_FILES.key), mode)
      expect((await rejected(ensureGeneratedTlsIdentity(dir, 'localhost', now))).code).toBe(
        'ERR_KBS_TLS_KEY_MODE',
      )
    }
    await unlink(join(dir, GENERATED_TLS_FILES.key))
    expect((await rejected(ensureGeneratedTlsIdentity(dir, 'localhost', now))).code).toBe(
      'ERR_KBS_TLS_PARTIAL',
    )
  })

  it('refuses a given key file open to group or others, as the master key file, naming it', async () => {
    const dir = await dataDir()
    await ensureGeneratedTlsIdentity(dir, 'localhost', now)
    const [certFile, keyFile] = [join(dir, GENERATED_TLS_FILES.cert), join(dir, 'given.key')]
    await writeFile(keyFile, await readFile(join(dir, GENERATED_TLS_FILES.key)), { mode: 0o600 })
    expect((await loadTlsIdentity(certFile, keyFile, 'localhost')).keyFile).toBe(keyFile)
    for (const mode of [0o640, 0o604, 0o620, 0o602, 0o644, 0o400 | 0o040]) {
      await chmod(keyFile, mode)
      const error = await rejected(loadTlsIdentity(certFile, keyFile, 'localhost'))
      expect([mode.toString(8), error.code]).toEqual([mode.toString(8), 'ERR_KBS_TLS_KEY_MODE'])
      expect(error.category).toBe('io')
      expect(error.message).toBe(
        `the TLS private key file ${keyFile} is accessible to group or others (mode ${mode.toString(8)})`,
      )
      expect(error.hint).toBe(`run chmod 600 ${keyFile} (and consider the key exposed)`)
    }
    // Owner-only, read-only (as the Kubernetes init container copies it): taken.
    await chmod(keyFile, 0o400)
    expect((await loadTlsIdentity(certFile, keyFile, 'localhost')).keyFile).toBe(keyFile)
    // Owned by another user than this process's: refused, as the master key file.
    const owner = process.getuid?.() ?? 0
    vi.spyOn(process, 'getuid').mockReturnValue(owner + 1)
    const error = await rejected(loadTlsIdentity(certFile, keyFile, 'localhost'))
    expect(error.code).toBe('ERR_KBS_TLS_KEY_MODE')
    expect(error.message).toContain(`is owned by another user (uid ${String(owner)})`)
    // On standard input there is no mode or owner to check.
    const stdin = await rejected(loadTlsIdentity(certFile, '-', 'localhost'))
    expect(stdin.code).toBe('ERR_KBS_TLS_KEY_MODE')
  })

  it('refuses given files whose key is not the certificate key', async () => {
    const [a, b] = [await dataDir(), await dataDir()]
    await ensureGeneratedTlsIdentity(a, 'localhost', now)
    await ensureGeneratedTlsIdentity(b, 'localhost', now)
    const error = await rejected(
      loadTlsIdentity(
        join(a, GENERATED_TLS_FILES.cert),
        join(b, GENERATED_TLS_FILES.key),
        'localhost',
      ),
    )
    expect(error.code).toBe('ERR_KBS_TLS_IDENTITY')
    await writeFile(join(a, 'junk.pem'), 'not a certificate')
    expect(
      (
        await rejected(
          loadTlsIdentity(join(a, 'junk.pem'), join(a, GENERATED_TLS_FILES.key), 'localhost'),
        )
      ).code,
    ).toBe('ERR_KBS_TLS_IDENTITY')
  })

  it('serves real HTTPS on loopback that a client trusting only that certificate accepts', async () => {
    const dir = await dataDir()
    const identity = await ensureGeneratedTlsIdentity(dir, '127.0.0.1', new Date())
    const config = resolveKbsServerConfig({
      dataDir: dir,
      listen: '127.0.0.1:0',
      adminPublicKey: ['admin.pub'],
    })
    const services = await createKbsServices(config, { online: false })
    const app = await buildKbsApp({
      ...services,
      adminKeys: [testAdminKey('EdDSA').admin],
      config,
      tls: identity,
      logger: { level: 'silent' },
      clock: () => new Date(),
      simulatedTrust: false,
    })
    try {
      const { url } = await listenKbs(app, config.listen)
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
      const ca = await readFile(join(dir, GENERATED_TLS_FILES.cert), 'utf8')
      const body = await new Promise<string>((resolve, reject) => {
        request(`${url}/healthz`, { ca }, (response) => {
          let text = ''
          response.on('data', (chunk: Buffer) => (text += chunk.toString()))
          response.on('end', () => {
            resolve(text)
          })
        })
          .on('error', reject)
          .end()
      })
      expect(JSON.parse(body)).toEqual({ status: 'ok' })
      // Without the certificate as trusted, the client refuses the server.
      const refused = await new Promise<unknown>((resolve) => {
        request(`${url}/healthz`, {}, () => {
          resolve('connected')
        })
          .on('error', resolve)
          .end()
      })
      expect(String((refused as { code?: unknown }).code)).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/)
    } finally {
      await app.close()
      await services.store.close()
    }
  })
})
