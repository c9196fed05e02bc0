/**
 * The KBS container's arguments as `kbs serve` will read them: `$(VAR)` references expanded the
 * way the kubelet does (each must name a variable the container defines), parsed by the real
 * option parser, resolved with the ConfigMap's `kbs.toml` by the real configuration resolver; and
 * every file they name is where a volume puts it.
 */
import { randomBytes } from 'node:crypto'
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import {
  ensureGeneratedTlsIdentity,
  loadMasterKey,
  loadTlsIdentity,
  openKbsStore,
  resolveKbsServerConfig,
} from '@initguard/kbs'
import { parseCommandArgs } from '../packages/cli/src/command.ts'
import { kbsServeCommand } from '../packages/cli/src/commands/kbs-serve.ts'
import { kbsServeFlags } from '../packages/cli/src/commands/kbs-serve-run.ts'
import { at, list, loadKustomized, object, text, theOne, type Json } from './deploy-test-support.ts'

const kustomized = await loadKustomized()
const podSpec = object(at(theOne(kustomized, 'Deployment').object, 'spec.template.spec'), 'pod')
const containers = list(podSpec['containers'], 'containers').map((c) => object(c, 'container'))
const kbs = containers.find((container) => container['name'] === 'kbs') ?? {}
const initContainers = list(podSpec['initContainers'], 'initContainers').map((c) =>
  object(c, 'init container'),
)

/** A stand-in for each value that comes from a Secret (its real value is never in the repo). */
const SECRET_STAND_INS: Readonly<Record<string, string>> = {
  INITGUARD_KBS_DATABASE: 'postgres://kbs:password@postgres.db:5432/kbs?sslmode=verify-full',
}

/** The container's environment: plain values, and stand-ins for those from Secrets. */
function environment(container: Json): Record<string, string> {
  const env: Record<string, string> = {}
  for (const variable of list(container['env'], 'env').map((v) => object(v, 'env'))) {
    const name = text(variable['name'], 'env name')
    const value =
      variable['value'] ??
      (at(variable, 'valueFrom.secretKeyRef') === undefined ? undefined : SECRET_STAND_INS[name])
    env[name] = text(value, `env ${name}`)
  }
  return env
}

const env = environment(kbs)

/** The container's arguments with `$(NAME)` expanded as the kubelet does (it must be defined). */
function expandedArgs(container: Json): string[] {
  return list(container['args'], 'args').map((arg) =>
    text(arg, 'arg').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, name: string) => {
      const value = env[name]
      if (value === undefined) throw new Error(`args reference $(${name}), which is not defined`)
      return value
    }),
  )
}

const args = expandedArgs(kbs)
const parsed = parseCommandArgs('initguard kbs', kbsServeCommand, args)

/** The configuration the container's arguments and the ConfigMap's kbs.toml resolve to. */
function configMapConfig(): ReturnType<typeof resolveKbsServerConfig> {
  const configMap = theOne(kustomized, 'ConfigMap').object
  const toml = text(object(configMap['data'], 'data')['kbs.toml'], 'kbs.toml')
  return resolveKbsServerConfig(kbsServeFlags(parsed, env), {
    document: parseToml(toml),
    path: text(parsed.values['config'], '--config'),
  })
}

describe('the KBS container’s arguments', () => {
  it('parse with the real `kbs serve` options, and resolve with the ConfigMap’s kbs.toml', () => {
    expect(parsed.positionals).toEqual([])
    const configMap = theOne(kustomized, 'ConfigMap').object
    const toml = text(object(configMap['data'], 'data')['kbs.toml'], 'kbs.toml')
    const configFile = text(parsed.values['config'], '--config')
    const config = resolveKbsServerConfig(kbsServeFlags(parsed, env), {
      document: parseToml(toml),
      path: configFile,
    })
    const port = object(list(kbs['ports'], 'ports')[0], 'port')
    expect(config.listen).toEqual({ host: '0.0.0.0', port: port['containerPort'] })
    expect(config.tls.mode).toBe('files')
    expect(config.trustSimDir).toBeUndefined()
    // With PostgreSQL the master key must be given, never generated in a replica's data dir.
    expect(config.masterKeyFile).toBe(parsed.values['master-key-file'])
    // Under the 5 s store-call deadline (the resolver refuses more): the server cancels what a
    // guest was told failed.
    expect(config.database).toMatchObject({
      kind: 'postgres',
      poolSize: 10,
      statementTimeoutMs: 4000,
    })
    // The URL (a password) is never an argument.
    expect(args.join(' ')).not.toContain('postgres://')
  })

  it('bound the collateral cache well inside the data volume', () => {
    const config = configMapConfig()
    const dataMount = mountOf(config.dataDir)
    const volumes = list(podSpec['volumes'], 'volumes').map((v) => object(v, 'volume'))
    const data = volumes.find((v) => v['name'] === dataMount['name']) ?? {}
    const sizeLimit = /^([0-9]+)Mi$/.exec(text(at(data, 'emptyDir.sizeLimit'), 'sizeLimit'))
    const volumeBytes = Number(sizeLimit?.[1]) * 1024 * 1024
    // Two vendors' caches (kds, pcs) at their bound, and room for as much again in flight.
    expect(2 * 2 * config.collateralCache.maxBytes).toBeLessThanOrEqual(volumeBytes)
  })

  it('name a data directory the KBS opens inside its emptyDir, as the kubelet mounts it', async () => {
    // The kubelet makes an emptyDir 0777 and, with an fsGroup, adds the setgid bit (2777), owned
    // by root: the KBS refuses a data directory group or others may enter, and cannot chmod one
    // it does not own. A directory below the mount, which the KBS creates 0700, opens.
    const config = configMapConfig()
    const mount = mountOf(config.dataDir)
    const volumes = list(podSpec['volumes'], 'volumes').map((v) => object(v, 'volume'))
    const volume = volumes.find((v) => v['name'] === mount['name']) ?? {}
    expect(volume['emptyDir'], 'the data volume').toBeDefined()
    const emptyDir = await mkdtemp(join(tmpdir(), 'initguard-deploy-emptydir-'))
    try {
      await chmod(emptyDir, 0o2777)
      const dataDir = join(
        emptyDir,
        relative(text(mount['mountPath'], 'mountPath'), config.dataDir),
      )
      const store = await openKbsStore({ dataDir, masterKey: randomBytes(32) })
      await store.close()
    } finally {
      await rm(emptyDir, { recursive: true, force: true })
    }
  })

  it('name private key files the KBS takes only as the init container copies them, not as mounted', async () => {
    // Each `install -m MODE SOURCE DEST` of the init container, run on real files: SOURCE as its
    // Secret volume makes it (defaultMode), DEST as install writes it (this user's, MODE). The KBS
    // refuses a private key file group or others may read (ERR_KBS_*_MODE), the Secret's too.
    const command = initContainers.flatMap((c) => list(c['command'], 'command')).join(' ')
    const installs = [...command.matchAll(/install -m ([0-7]+) (\S+) (\S+)/g)].map((m) => ({
      mode: parseInt(m[1] ?? '', 8),
      source: m[2] ?? '',
      dest: m[3] ?? '',
    }))
    const [masterKeyFile, tlsKeyFile, tlsCertFile] = ['master-key-file', 'tls-key', 'tls-cert'].map(
      (option) => text(parsed.values[option], option),
    )
    expect(installs.map((i) => i.dest).sort()).toEqual([masterKeyFile, tlsKeyFile].sort())
    const initMounts = initContainers.flatMap((c) =>
      list(c['volumeMounts'], 'volumeMounts').map((m) => object(m, 'mount')),
    )
    const volumes = list(podSpec['volumes'], 'volumes').map((v) => object(v, 'volume'))
    const root = await mkdtemp(join(tmpdir(), 'initguard-deploy-keys-'))
    const onDisk = (path: string): string => join(root, path)
    try {
      const identity = await ensureGeneratedTlsIdentity(onDisk('made'), '127.0.0.1', new Date())
      const contents: Readonly<Record<string, string | Buffer>> = {
        [masterKeyFile ?? '']: 'ab'.repeat(32),
        [tlsKeyFile ?? '']: await readFile(identity.keyFile),
      }
      await mkdir(dirname(onDisk(tlsCertFile ?? '')), { recursive: true })
      await copyFile(identity.certFile, onDisk(tlsCertFile ?? ''))
      for (const { mode, source, dest } of installs) {
        const mount = initMounts.find((m) => source.startsWith(`${text(m['mountPath'], 'path')}/`))
        const volume = volumes.find((v) => v['name'] === mount?.['name']) ?? {}
        const secretMode = at(volume, 'secret.defaultMode')
        expect(typeof secretMode, `${source}: a Secret volume's file`).toBe('number')
        await mkdir(dirname(onDisk(source)), { recursive: true })
        await writeFile(onDisk(source), contents[dest] ?? '')
        await chmod(onDisk(source), Number(secretMode))
        await mkdir(dirname(onDisk(dest)), { recursive: true })
        await copyFile(onDisk(source), onDisk(dest))
        await chmod(onDisk(dest), mode)
      }
      const dataDir = onDisk('data')
      const masterSource = installs.find((i) => i.dest === masterKeyFile)?.source ?? ''
      const tlsSource = installs.find((i) => i.dest === tlsKeyFile)?.source ?? ''
      // As the KBS container reads them: taken.
      expect((await loadMasterKey({ dataDir, file: onDisk(masterKeyFile ?? '') })).source).toBe(
        'file',
      )
      const cert = onDisk(tlsCertFile ?? '')
      expect((await loadTlsIdentity(cert, onDisk(tlsKeyFile ?? ''), '0.0.0.0')).spkiPin).toBe(
        identity.spkiPin,
      )
      // As the Secret volume mounts them: refused, which is why the init container copies them.
      expect(await rejectedCode(loadMasterKey({ dataDir, file: onDisk(masterSource) }))).toBe(
        'ERR_KBS_MASTER_KEY_MODE',
      )
      expect(await rejectedCode(loadTlsIdentity(cert, onDisk(tlsSource), '0.0.0.0'))).toBe(
        'ERR_KBS_TLS_KEY_MODE',
      )
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('bound the collateral downloads, as the ConfigMap states them', () => {
    const config = configMapConfig()
    expect(config.collateralDownloads).toEqual({
      maxConcurrent: 4,
      maxQueued: 64,
      notFoundTtlMs: 10 * 60_000,
    })
    // Every admitted download holds a guest's /attest open: together they stay far below the
    // connections a replica takes, so a flood of invented chips cannot starve other clients.
    const held = config.collateralDownloads.maxConcurrent + config.collateralDownloads.maxQueued
    expect(2 * held).toBeLessThan(config.connections.max / 10)
  })

  it('name only files that a volume puts there', () => {
    const mounts = list(kbs['volumeMounts'], 'volumeMounts').map((m) => object(m, 'mount'))
    const volumes = list(podSpec['volumes'], 'volumes').map((v) => object(v, 'volume'))
    const copied = initContainers.flatMap((c) => list(c['command'], 'command')).join(' ')
    const files = ['master-key-file', 'tls-cert', 'tls-key', 'admin-public-key', 'config']
    for (const option of files) {
      const given = parsed.values[option]
      const path = text(Array.isArray(given) ? given[0] : given, option)
      const mount = mounts.find((m) => path.startsWith(`${text(m['mountPath'], 'mountPath')}/`))
      expect(mount, `${option} ${path}`).toBeDefined()
      const volume = volumes.find((v) => v['name'] === mount?.['name']) ?? {}
      const name = path.slice(text(mount?.['mountPath'], 'mountPath').length + 1)
      const source = (volume['secret'] ?? volume['configMap']) as Json | undefined
      if (source !== undefined) {
        const items = list(source['items'], 'items').map((i) => text(at(i as Json, 'path'), 'path'))
        // Without items, every key of the Secret or ConfigMap is a file of its name.
        const made = kustomized.generated.find((g) => g.name === source['secretName'])?.keys
        const keys =
          items.length > 0 ? items : (made ?? Object.keys(object(configMapData(source), 'data')))
        expect(keys, `${option}: ${name}`).toContain(name)
      } else {
        // A private key: the init container copies it there, owner-only.
        expect(copied, `${option}: ${path}`).toContain(` ${path}`)
        expect(mount?.['readOnly']).toBe(true)
      }
    }
  })
})

/** The KBS container's volume mount that holds `path` (the longest mount path above it). */
function mountOf(path: string): Json {
  const mounts = list(kbs['volumeMounts'], 'volumeMounts').map((m) => object(m, 'mount'))
  const holding = mounts.filter((m) => {
    const mountPath = text(m['mountPath'], 'mountPath')
    return path === mountPath || path.startsWith(`${mountPath}/`)
  })
  holding.sort((a, b) => String(b['mountPath']).length - String(a['mountPath']).length)
  return holding[0] ?? {}
}

/** The data of the ConfigMap a volume names. */
function configMapData(source: Json): unknown {
  const configMap = kustomized.manifests.find(
    (m) => m.kind === 'ConfigMap' && m.name === source['name'],
  )
  return configMap?.object['data'] ?? {}
}
