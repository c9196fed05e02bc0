/**
 * A production install of the workspace, as deploy/Containerfile's runtime stage holds it, made
 * offline from this checkout: the package.json files, each workspace package's directory without
 * what the build stage's `rm -rf` removes (read from the Containerfile), its `node_modules` or
 * `.tsbuildinfo` (the repository's built `dist/` stands in for the build stage's `tsc -b`), and
 * only the dependencies `npm prune --omit=dev` keeps. Those are the
 * package-lock.json entries not marked `dev` (npm's own record of what only devDependencies
 * reach); with a lock file in sync (`npm ci` refuses any other) prune keeps exactly these. Files
 * are hard-linked where the file system allows (nothing here writes to them), copied otherwise.
 *
 * Also what a static look at that install needs: the modules each package's entry points reach,
 * and every specifier they import.
 *
 * @module
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process'
import {
  copyFile,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  symlink,
} from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import ts from 'typescript'
import { REPO_ROOT, type Containerfile } from './deploy-test-support.ts'

/** The parts of a package.json this reads. */
export interface PackageManifest {
  readonly name: string
  readonly dependencies?: Readonly<Record<string, string>>
  readonly devDependencies?: Readonly<Record<string, string>>
  readonly bin?: Readonly<Record<string, string>>
  readonly exports?: Readonly<Record<string, Readonly<Record<string, string>>>>
  readonly workspaces?: readonly string[]
}

interface LockEntry {
  readonly dev?: boolean
  readonly optional?: boolean
  readonly link?: boolean
  readonly resolved?: string
}

/**
 * What the build stage's `rm -rf` removes from every workspace package, as paths below the
 * package's directory (`src` for `packages/*` + `/src`). Any other kind of path is refused: the
 * emulation would not know what it removes.
 */
export function buildStageRemovals(image: Containerfile): string[] {
  const run = image
    .only(image.stage('build'), 'RUN')
    .map((instruction) => instruction.rest)
    .join(' && ')
  const paths = [...run.matchAll(/rm -rf ((?:[^&\s]+ ?)+)/g)].flatMap((m) =>
    (m[1] ?? '').split(' '),
  )
  return (
    paths
      // Absolute paths are the base image's (apt's lists), outside the work directory.
      .filter((path) => path !== '' && !path.startsWith('/'))
      .map((path) => {
        if (!path.startsWith('packages/*/'))
          throw new Error(`the build stage removes ${path}: teach makeProductionInstall what it is`)
        return path.slice('packages/*/'.length)
      })
  )
}

/** The package.json in `dir`. */
export async function readManifest(dir: string): Promise<PackageManifest> {
  return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageManifest
}

/**
 * Hard-link (or, across file systems, copy) `from` to `to`, directories recursively, leaving out
 * what `leaveOut` names (by its path below `from`).
 */
async function place(
  from: string,
  to: string,
  leaveOut: (path: string) => boolean,
  below = '',
): Promise<void> {
  const info = await lstat(from)
  if (info.isSymbolicLink()) return symlink(await readlink(from), to)
  if (!info.isDirectory()) {
    await link(from, to).catch(async (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error
      await copyFile(from, to)
    })
    return
  }
  await mkdir(to, { recursive: true })
  for (const name of await readdir(from)) {
    const path = below === '' ? name : `${below}/${name}`
    if (!leaveOut(path)) await place(join(from, name), join(to, name), leaveOut, path)
  }
}

/**
 * Make the production install of this checkout in `app` (an empty directory): what the image's
 * `/app` holds, each workspace package without `removals` ({@link buildStageRemovals}). Fails when
 * a package has not been built (`npx tsc -b`).
 */
export async function makeProductionInstall(
  app: string,
  removals: readonly string[],
): Promise<void> {
  // Not in the build context (.dockerignore), or npm's (placed below from the lock file).
  const leftOut = (path: string): boolean =>
    removals.includes(path) || path === 'node_modules' || path.endsWith('.tsbuildinfo')
  const root = await readManifest(REPO_ROOT)
  for (const file of ['package.json', 'package-lock.json'])
    await copyFile(join(REPO_ROOT, file), join(app, file))
  await mkdir(join(app, 'deploy'))
  await copyFile(
    join(REPO_ROOT, 'deploy', 'healthcheck.mjs'),
    join(app, 'deploy', 'healthcheck.mjs'),
  )
  for (const workspace of root.workspaces ?? []) {
    await lstat(join(REPO_ROOT, workspace, 'dist')).catch(() => {
      throw new Error(`${workspace} is not built: run npx tsc -b`)
    })
    await place(join(REPO_ROOT, workspace), join(app, workspace), leftOut)
  }
  const lock = JSON.parse(await readFile(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Readonly<Record<string, LockEntry>>
  }
  // Parents before the packages nested in them.
  const kept = Object.entries(lock.packages)
    .filter(([path, entry]) => path.includes('node_modules/') && entry.dev !== true)
    .sort(([a], [b]) => a.length - b.length)
  for (const [path, entry] of kept) {
    const to = join(app, path)
    await mkdir(dirname(to), { recursive: true })
    if (entry.link === true) {
      await symlink(relative(dirname(to), join(app, entry.resolved ?? '')), to)
      continue
    }
    const present = await lstat(join(REPO_ROOT, path)).then(
      () => true,
      () => false,
    )
    // An optional dependency npm skipped here (another platform's) is skipped in the image too.
    if (!present && entry.optional === true) continue
    await place(join(REPO_ROOT, path), to, (below) => below === 'node_modules')
  }
}

/** A specifier one shipped module imports (statically, dynamically or by `require`). */
export interface ImportSite {
  readonly file: string
  readonly specifier: string
}

/** The files an exports map names for Node without the `@initguard/source` condition. */
export function shippedEntries(manifest: PackageManifest): Record<string, string> {
  const entries: Record<string, string> = {}
  for (const [subpath, conditions] of Object.entries(manifest.exports ?? {})) {
    const target = conditions['default']
    if (target === undefined) throw new Error(`${manifest.name} ${subpath}: no "default" target`)
    entries[subpath] = target
  }
  for (const [name, target] of Object.entries(manifest.bin ?? {})) entries[`bin ${name}`] = target
  return entries
}

/** The modules a package's entry points reach, and every import in them. */
export interface Reachable {
  /** Absolute paths, the entry points first. */
  readonly modules: readonly string[]
  readonly imports: readonly ImportSite[]
}

/**
 * Every module that the entry points of the package in `dir` reach through relative imports (its
 * own files: static, dynamic and `require`), and every import in them.
 */
export async function reachable(dir: string): Promise<Reachable> {
  const manifest = await readManifest(dir)
  const queue = Object.values(shippedEntries(manifest)).map((target) => resolve(dir, target))
  const modules: string[] = []
  const imports: ImportSite[] = []
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (modules.includes(file)) continue
    modules.push(file)
    const source = await readFile(file, 'utf8')
    for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
      imports.push({ file: relative(dir, file), specifier: fileName })
      if (fileName.startsWith('.')) queue.push(resolve(dirname(file), fileName))
    }
  }
  return { modules, imports }
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`). */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/')
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/')
}

/** What a finished run of a shipped command gave. */
export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** A long-running shipped command (the KBS, the agent), started by {@link startUntil}. */
export interface Started extends AsyncDisposable {
  readonly child: ChildProcessByStdio<null, Readable, Readable>
  /** The first match of the pattern it was waited for. */
  readonly match: RegExpExecArray
  /** Its output so far. */
  readonly output: () => string
  /** SIGTERM (unless it has ended), and what it exited with. */
  readonly stop: () => Promise<number | null>
}

/** Options of a shipped command: its working directory and its whole environment. */
export interface RunOptions {
  readonly cwd: string
  readonly env: NodeJS.ProcessEnv
}

const running = new Set<ChildProcess>()
// A test run that dies early leaves no KBS or agent behind.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

function spawned(args: readonly string[], options: RunOptions) {
  const child = spawn(process.execPath, [...args], {
    ...options,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((done) =>
    child.on('close', (code) => {
      running.delete(child)
      done(code)
    }),
  )
  const ended = (): boolean => child.exitCode !== null || child.signalCode !== null
  return { child, exited, ended, stdout: () => stdout, stderr: () => stderr }
}

/** Run `node ARGS` to its end. */
export async function runNode(args: readonly string[], options: RunOptions): Promise<Ran> {
  const run = spawned(args, options)
  const code = await run.exited
  return { code, stdout: run.stdout(), stderr: run.stderr() }
}

/**
 * Start `node ARGS` and wait until its output (either stream) matches `ready`; disposing of it
 * kills it if it still runs.
 */
export async function startUntil(
  args: readonly string[],
  options: RunOptions,
  ready: RegExp,
): Promise<Started> {
  const run = spawned(args, options)
  const output = (): string => `${run.stdout()}${run.stderr()}`
  const match = await new Promise<RegExpExecArray>((resolveMatch, reject) => {
    const check = (): void => {
      const found = ready.exec(output())
      if (found !== null) resolveMatch(found)
    }
    run.child.stdout.on('data', check)
    run.child.stderr.on('data', check)
    void run.exited.then((code) => {
      reject(new Error(`node ${args.join(' ')} exited with ${String(code)}: ${output()}`))
    })
  })
  return {
    child: run.child,
    match,
    output,
    stop: async () => {
      if (!run.ended()) run.child.kill('SIGTERM')
      return run.exited
    },
    [Symbol.asyncDispose]: async () => {
      if (!run.ended()) run.child.kill('SIGKILL')
      await run.exited
    },
  }
}
