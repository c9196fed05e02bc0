/**
 * deploy/Containerfile against the repository (no container engine runs here): every COPY from
 * the build context names a file that exists and is not excluded by .dockerignore, every COPY
 * from the build stage names what that stage made, both stages share the Node 20 slim base, the
 * user is not root and matches the Deployment's, and the entrypoint is the real `initguard` bin
 * running `kbs serve` with arguments the real option parser accepts.
 */
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseCommandArgs } from '../packages/cli/src/command.ts'
import { kbsCommands } from '../packages/cli/src/groups/kbs.ts'
import {
  at,
  containerfile,
  loadKustomized,
  object,
  REPO_ROOT,
  theOne,
} from './deploy-test-support.ts'

const { all, stages, stage, only, exec } = containerfile(
  await readFile(join(REPO_ROOT, 'deploy', 'Containerfile'), 'utf8'),
)

describe('deploy/Containerfile', () => {
  it('builds in one stage and runs from another, both on the Node 20 slim Debian base', () => {
    expect(stages.map((s) => s.from)).toEqual([
      '${NODE_IMAGE} AS build',
      '${NODE_IMAGE} AS runtime',
    ])
    expect(only(all, 'ARG')[0]?.rest).toMatch(/^NODE_IMAGE=node:20-[a-z]+-slim$/)
    expect(
      only(stage('build'), 'RUN')
        .map((r) => r.rest)
        .join(' '),
    ).toContain('npm prune --omit=dev')
  })

  it('copies from the context only files that exist and are not ignored', async () => {
    const ignored = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
    const copies = only(all, 'COPY').filter((copy) => !copy.rest.startsWith('--from='))
    expect(copies.length).toBeGreaterThan(0)
    for (const copy of copies) {
      const sources = copy.rest.split(/\s+/).slice(0, -1)
      for (const path of sources) {
        await access(join(REPO_ROOT, path))
        expect(ignored, path).not.toContain(path.replace(/\/$/, ''))
      }
    }
  })

  it('copies from the build stage only what that stage put in its work directory', () => {
    const build = stage('build')
    const workdir = only(build, 'WORKDIR')[0]?.rest ?? ''
    // What the build stage holds: what it copied in, and what `npm ci` made.
    const made = new Set(['node_modules'])
    for (const copy of only(build, 'COPY'))
      for (const path of copy.rest.split(/\s+/).slice(0, -1)) made.add(path.replace(/\/$/, ''))
    const fromBuild = only(stage('runtime'), 'COPY').filter((c) =>
      c.rest.startsWith('--from=build'),
    )
    expect(fromBuild.length).toBeGreaterThan(0)
    for (const copy of fromBuild)
      for (const path of copy.rest.split(/\s+/).slice(1, -1)) {
        expect(path.startsWith(`${workdir}/`), path).toBe(true)
        expect(made.has(path.slice(workdir.length + 1).replace(/\/$/, '')), path).toBe(true)
      }
  })

  it('runs the real initguard bin as `kbs serve` with options the real parser accepts', async () => {
    const runtime = stage('runtime')
    const workdir = only(runtime, 'WORKDIR')[0]?.rest ?? ''
    const [node, script = '', group, name, ...more] = exec(
      only(runtime, 'ENTRYPOINT')[0]?.rest ?? '[]',
    )
    expect([node, group, name, more]).toEqual(['node', 'kbs', 'serve', []])
    const packageJson = JSON.parse(
      await readFile(join(REPO_ROOT, 'packages', 'cli', 'package.json'), 'utf8'),
    ) as { bin: Record<string, string> }
    expect(script).toBe(`${workdir}/packages/cli/${packageJson.bin['initguard'] ?? ''}`)
    await access(join(REPO_ROOT, script.slice(workdir.length + 1)))
    const serve = kbsCommands.find((command) => command.name === name)
    expect(serve).toBeDefined()
    if (serve === undefined) return
    const parsed = parseCommandArgs(
      'initguard kbs',
      serve,
      exec(only(runtime, 'CMD')[0]?.rest ?? '[]'),
    )
    expect(parsed.positionals).toEqual([])
    expect(parsed.values['listen']).toBe(`0.0.0.0:${only(runtime, 'EXPOSE')[0]?.rest ?? ''}`)
  })

  it('runs as the Deployment’s unprivileged user, and its health check is shipped', async () => {
    const runtime = stage('runtime')
    const user = only(runtime, 'USER')[0]?.rest ?? ''
    const pod = theOne(await loadKustomized(), 'Deployment').object
    const context = object(at(pod, 'spec.template.spec.securityContext'), 'securityContext')
    expect(user).toBe(`${String(context['runAsUser'])}:${String(context['runAsGroup'])}`)
    expect(user.startsWith('0')).toBe(false)
    const health = only(runtime, 'HEALTHCHECK')[0]?.rest ?? ''
    const command = exec(health.slice(health.indexOf('CMD ') + 4))
    expect(command[0]).toBe('node')
    const workdir = only(runtime, 'WORKDIR')[0]?.rest ?? ''
    const destinations = only(runtime, 'COPY').map(
      (c) => `${workdir}/${c.rest.split(/\s+/).at(-1) ?? ''}`,
    )
    expect(destinations).toContain(command[1])
  })
})
