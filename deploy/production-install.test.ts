/**
 * The shipped entry points run from a production install: what deploy/Containerfile's runtime
 * stage holds (dependencies pruned with `npm prune --omit=dev`, no `src/`, no `.tsbuildinfo`),
 * started the way the image starts them (`NODE_ENV=production`, plain `node`, no export
 * condition, no tsx). Every other test imports the packages by their TypeScript sources (the
 * `@initguard/source` condition) with every devDependency installed, so a runtime import that
 * resolves only to a devDependency, to `src/` or to a `.ts` file would pass them all and stop
 * every replica at start.
 *
 * Why this shape, for 10 to 25 s of CI (a PostgreSQL cluster, some 25 short processes) and no
 * network: the install is made from this checkout
 * (its built `dist/`, and the package-lock.json entries prune keeps, hard-linked), not by
 * `npm ci`. Two checks cover every module, cheaply: each package's entry points load under Node
 * as a consumer loads them (a missing module or a source-only export fails), and each import of
 * every module they reach names a Node built-in, the package's own file or one of ITS
 * `dependencies` (a module present only because another package's dependency was hoisted would
 * load here and break when that package drops it). Loading is not running, so the KBS then
 * runs with the Deployment's own arguments and ConfigMap on PostgreSQL, answers `/healthz` and
 * `/readyz` through the image's health check script, takes the admin commands docs/production.md
 * gives, and releases a secret to the guest agent of the README (plus `--trust-sim`, the one way
 * to attest here). Nothing in the install, or in `HOME`, is written meanwhile: the image's root
 * file system is read-only.
 */
import { createHash, randomBytes } from 'node:crypto'
import { builtinModules } from 'node:module'
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SIMULATOR_SNP_MEASUREMENT_HEX } from '@initguard/tee-simulator'
import { ScratchDirectories, startPostgresCluster } from '@initguard/testkit'
import { selfSignedLoopbackCertificate } from '../packages/http/src/http-test-support.ts'
import {
  at,
  containerfile,
  list,
  loadKustomized,
  object,
  REPO_ROOT,
  text,
  theOne,
} from './deploy-test-support.ts'
import {
  buildStageRemovals,
  makeProductionInstall,
  packageOf,
  reachable,
  readManifest,
  runNode,
  shippedEntries,
  startUntil,
  type RunOptions,
} from './production-install-test-support.ts'

const image = containerfile(await readFile(join(REPO_ROOT, 'deploy', 'Containerfile'), 'utf8'))
const workspaces = (await readManifest(REPO_ROOT)).workspaces ?? []
// Made after everything at the top that may throw, so that its removal is always registered.
const scratch = new ScratchDirectories()
const top = scratch.make('initguard-production-install-')
const app = join(top, 'app')
afterAll(() => {
  scratch.removeAll()
})

beforeAll(async () => {
  await mkdir(app)
  await makeProductionInstall(app, buildStageRemovals(image))
})

/** The runtime stage's `ENV` (`NAME=value …`), as every process in the image sees it. */
function imageEnvironment(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { rest } of image.only(image.stage('runtime'), 'ENV'))
    for (const [, name = '', value = ''] of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g))
      env[name] = value
  return env
}

/** Every file and directory below `dir`, as relative paths. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true })
  return entries.sort()
}

describe('the production install (deploy/Containerfile’s runtime stage)', () => {
  it('is made the way the Containerfile makes it', () => {
    const build = image
      .only(image.stage('build'), 'RUN')
      .map((r) => r.rest)
      .join(' ')
    // What makeProductionInstall stands in for: change it with these.
    expect(build).toContain('npm ci ')
    expect(build).toContain('npm prune --omit=dev ')
    expect(buildStageRemovals(image)).toEqual(expect.arrayContaining(['src', 'dist/.tsbuildinfo']))
    const copies = image.only(image.stage('runtime'), 'COPY').map((c) => c.rest.split(/\s+/))
    expect(copies.map((words) => words.slice(0, -1).join(' '))).toEqual([
      '--from=build /src/package.json /src/package-lock.json',
      '--from=build /src/node_modules/',
      '--from=build /src/packages/',
      'deploy/healthcheck.mjs',
    ])
  })

  it('holds no TypeScript source and no devDependency of the workspace', async () => {
    for (const workspace of workspaces)
      expect(await readdir(join(app, workspace)), workspace).not.toContain('src')
    const modules = await readdir(join(app, 'node_modules'))
    for (const tool of ['typescript', 'tsx', 'vitest']) expect(modules).not.toContain(tool)
    expect(modules).toContain('fastify')
  })

  it('holds no test data of the workspace: no fixture databases, no fixture master keys', async () => {
    const found = (await tree(join(app, 'packages'))).filter((path) =>
      /(^|\/)(testdata|master\.key)$/.test(path),
    )
    expect(found).toEqual([])
  })

  it('every exports target exists: the source in the checkout, the types and code in the install', async () => {
    const missing: string[] = []
    for (const workspace of workspaces) {
      const manifest = await readManifest(join(app, workspace))
      for (const [subpath, conditions] of Object.entries(manifest.exports ?? {}))
        for (const [condition, target] of Object.entries(conditions)) {
          const base = condition === '@initguard/source' ? REPO_ROOT : app
          await access(join(base, workspace, target)).catch(() => {
            missing.push(`${manifest.name} "${subpath}" ${condition}: ${target}`)
          })
        }
    }
    expect(missing).toEqual([])
  })

  it('every module an entry point reaches imports only built-ins, its own files and its package’s dependencies', async () => {
    const refused: string[] = []
    for (const workspace of workspaces) {
      const manifest = await readManifest(join(app, workspace))
      const dependencies = new Set(Object.keys(manifest.dependencies ?? {}))
      for (const { file, specifier } of (await reachable(join(app, workspace))).imports) {
        const where = `${manifest.name} ${file}: ${specifier}`
        if (/\.[cm]?tsx?$/.test(specifier) || /(^|\/)src\//.test(specifier))
          refused.push(`${where} (a TypeScript source)`)
        else if (specifier.startsWith('.') || specifier.startsWith('node:')) continue
        else if (builtinModules.includes(specifier)) continue
        else if (!dependencies.has(packageOf(specifier)))
          refused.push(
            `${where} (${packageOf(specifier) in (manifest.devDependencies ?? {}) ? 'a devDependency' : 'not a dependency'} of ${manifest.name})`,
          )
      }
    }
    expect(refused).toEqual([])
  })

  it('every module an entry point reaches loads with plain node, NODE_ENV=production, no source condition', async () => {
    // The exports by name, as a consumer imports them; then every module they and the bins
    // reach (the CLI's command groups load lazily), by path, except the bins (they would run).
    const specifiers: string[] = []
    const bins: string[] = []
    for (const workspace of workspaces) {
      const manifest = await readManifest(join(app, workspace))
      for (const [subpath, target] of Object.entries(shippedEntries(manifest)))
        if (subpath.startsWith('.')) specifiers.push(join(manifest.name, subpath))
        else bins.push(join(app, workspace, target))
      for (const module of (await reachable(join(app, workspace))).modules)
        if (!bins.includes(module)) specifiers.push(pathToFileURL(module).href)
    }
    expect(specifiers).toContain('@initguard/kbs')
    expect(specifiers.length).toBeGreaterThan(300)
    // Each import on its own, so one failure does not hide the next.
    const script = `for (const s of ${JSON.stringify(specifiers)})
      await import(s).catch((e) => console.log('failed', s, e.code ?? '', e.message))`
    const run = await runNode(['--input-type=module', '--eval', script], {
      cwd: app,
      env: { PATH: process.env['PATH'], ...imageEnvironment() },
    })
    expect(run.stdout).toBe('')
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
  })
})

/** The KBS container of the Deployment: its arguments and the ConfigMap's kbs.toml. */
async function deployment(): Promise<{ args: string[]; toml: string }> {
  const kustomized = await loadKustomized()
  const pod = object(at(theOne(kustomized, 'Deployment').object, 'spec.template.spec'), 'pod')
  const kbs = list(pod['containers'], 'containers')
    .map((c) => object(c, 'container'))
    .find((c) => c['name'] === 'kbs')
  const args = list(kbs?.['args'], 'args').map((arg) => text(arg, 'arg'))
  const data = object(theOne(kustomized, 'ConfigMap').object['data'], 'data')
  return { args, toml: text(data['kbs.toml'], 'kbs.toml') }
}

/** The pod's files below `pod`: what its Secrets and ConfigMap put where the arguments say. */
interface Pod {
  /** `kbs serve`'s arguments: the Deployment's, every path below `pod`, listening on loopback. */
  readonly args: string[]
  /** Where the argument of option `name` points, below `pod`. */
  readonly file: (name: string) => string
  readonly tlsCert: string
}

async function podFiles(pod: string): Promise<Pod> {
  const { args, toml } = await deployment()
  const file = (name: string): string => join(pod, args[args.indexOf(name) + 1] ?? '')
  const tls = selfSignedLoopbackCertificate()
  const secrets: Record<string, string | Buffer> = {
    '--master-key-file': randomBytes(32),
    '--tls-cert': tls.cert,
    '--tls-key': tls.key,
    '--config': toml,
  }
  for (const [name, content] of Object.entries(secrets)) {
    await mkdir(dirname(file(name)), { recursive: true })
    await writeFile(file(name), content, { mode: 0o400 })
  }
  for (const name of ['--admin-public-key', '--data-dir'])
    await mkdir(dirname(file(name)), { recursive: true })
  return {
    args: args.map((arg, i) =>
      args[i - 1] === '--listen' ? '127.0.0.1:0' : arg.startsWith('/') ? join(pod, arg) : arg,
    ),
    file,
    tlsCert: tls.cert,
  }
}

describe('the production install runs as the image runs it', () => {
  it('kbs serve with the Deployment’s arguments on PostgreSQL: health check, admin commands, a guest’s secret', async () => {
    const pod = join(top, 'pod')
    const work = join(top, 'work')
    const home = join(top, 'home')
    for (const dir of [pod, work, home]) await mkdir(dir)
    const { args, file, tlsCert } = await podFiles(pod)
    await using cluster = await startPostgresCluster()
    const env = {
      PATH: process.env['PATH'],
      HOME: home,
      ...imageEnvironment(),
      INITGUARD_KBS_DATABASE: await cluster.createDatabase('initguard_kbs'),
    }
    const options: RunOptions = { cwd: work, env }
    const bin = join(app, 'packages', 'cli', 'bin', 'initguard.js')
    const ok = async (...more: string[]): Promise<string> => {
      const run = await runNode([bin, ...more], options)
      expect(run.code, `initguard ${more.join(' ')}: ${run.stderr}`).toBe(0)
      return run.stdout
    }
    const inWork = (name: string): string => join(work, name)
    const installed = await tree(app)

    expect(await ok('--version')).toMatch(/^initguard \d+\.\d+\.\d+/)
    expect(await ok('--help')).toMatch(/^ {4}serve {2,}Run the key broker/m)
    const adminPub = file('--admin-public-key')
    await ok('kbs', 'keygen', '--out-private', 'admin.key', '--out-public', adminPub)
    await ok('sim', 'init', '--sim-dir', 'sim')
    const podBefore = await tree(pod)
    await using kbs = await startUntil(
      [bin, 'kbs', 'serve', ...args, '--trust-sim', 'sim'],
      options,
      /listening on (https:\/\/127\.0\.0\.1:\d+)/,
    )
    const url = kbs.match[1] ?? ''
    const health = (path: string) =>
      runNode([join(app, 'deploy', 'healthcheck.mjs')], {
        cwd: app,
        env: { ...env, INITGUARD_KBS_HEALTHCHECK_URL: `${url}${path}` },
      })
    expect((await health('/healthz')).code).toBe(0)
    expect((await health('/readyz')).code).toBe(0)

    // The README's host side: a document naming this KBS and pinning its certificate.
    const examples = join(app, 'packages', 'cli', 'examples')
    const aa = await readFile(join(examples, 'aa.toml'), 'utf8')
    const aaHere = aa.replace('https://kbs.example.internal:8080', url)
    await writeFile(inWork('aa.toml'), `${aaHere}cert = '''\n${tlsCert}'''\n`)
    const policy = join(examples, 'policy.rego')
    const snp = ['--tee', 'snp']
    await ok(
      'initdata',
      'build',
      '--aa',
      'aa.toml',
      '--policy',
      policy,
      '--for-tee',
      'snp',
      '-o',
      'initdata.toml',
    )
    const digest = await ok('initdata', 'digest', 'initdata.toml', ...snp)
    const document = await readFile(inWork('initdata.toml'))
    expect(digest.trim()).toBe(createHash('sha256').update(document).digest('hex'))
    const sim = ['--sim-dir', 'sim']
    await ok('sim', 'launch', ...sim, ...snp, '--initdata', 'initdata.toml', '--name', 'web')
    const evidence = await ok('sim', 'evidence', ...sim, '--guest', 'web', '--report-data', '00ff')
    await writeFile(inWork('snp.json'), evidence)
    await ok(
      ...['evidence', 'verify', 'snp.json', '--trust-root', 'sim/amd-roots.pem'],
      ...['--crl', 'sim/amd-crl.der', '--expect-initdata', 'initdata.toml'],
    )

    // The operator's side (docs/production.md): the admin commands, over verified TLS.
    const to = ['--url', url, '--ca', file('--tls-cert'), '--admin-key', 'admin.key']
    const admin = (...more: string[]) => ok('kbs', 'admin', ...to, ...more)
    await admin(
      ...['workload', 'put', '--name', 'app', ...snp, '--initdata', 'initdata.toml'],
      ...['--resource', 'default/app/*', '--snp-measurement', SIMULATOR_SNP_MEASUREMENT_HEX],
    )
    await writeFile(inWork('secret.txt'), 's3cret')
    await admin('resource', 'put', '--path', 'default/app/password', '--file', 'secret.txt')
    expect(await admin('workload', 'list')).toContain('"name": "app"')
    expect(await admin('workload', 'get', '--name', 'app')).toContain('"version": 1')
    expect(await admin('resource', 'list')).toContain('default/app/password')
    await admin('rotate-signing-key')

    // The guest's side: the README's agent, attesting to this KBS.
    await using agent = await startUntil(
      [
        ...[bin, 'agent', 'start', '--initdata', 'initdata.toml', '--tee', 'sim', ...sim],
        ...['--sim-guest', 'web', '--listen', '127.0.0.1:0'],
        ...['--socket', 'agent.sock', '--runtime-dir', 'run'],
      ],
      options,
      /initguard agent ready: (http:\/\/127\.0\.0\.1:\d+)/,
    )
    const secret = await fetch(`${agent.match[1] ?? ''}/cdh/resource/default/app/password`)
    expect([secret.status, await secret.text()]).toEqual([200, 's3cret'])
    expect(await agent.stop(), agent.output()).toBe(0)
    expect(await admin('audit')).toContain('"outcome": "released"')

    expect(await kbs.stop(), kbs.output()).toBe(0)
    expect((await health('/healthz')).code).toBe(1)
    // Written: below the data directory only, nothing in the install or in HOME.
    const dataDir = relative(pod, file('--data-dir'))
    const written = (await tree(pod)).filter((path) => !podBefore.includes(path))
    expect(written.filter((path) => path !== dataDir && !path.startsWith(`${dataDir}/`))).toEqual(
      [],
    )
    expect(await tree(app)).toEqual(installed)
    expect(await readdir(home)).toEqual([])
  }, 90_000)
})
