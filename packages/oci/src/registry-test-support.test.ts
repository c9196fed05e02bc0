/**
 * The test registry helper fails at once, naming scripts/setup-system.sh, when docker-registry is
 * missing or cannot be run: never after a start-up wait with an empty message and an unhandled
 * `spawn EACCES`.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { startRegistry } from './registry-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})
const originalPath = process.env['PATH']
afterEach(() => {
  process.env['PATH'] = originalPath
})

/** How long startRegistry takes to refuse, and its message. */
async function refusal(): Promise<{ readonly ms: number; readonly message: string }> {
  const started = Date.now()
  const error = await startRegistry().then(
    async (registry) => {
      await registry.stop()
      throw new Error('the registry started')
    },
    (e: unknown) => e,
  )
  return {
    ms: Date.now() - started,
    message: error instanceof Error ? error.message : String(error),
  }
}

describe('startRegistry and docker-registry on PATH', () => {
  it('a non-executable docker-registry first on PATH: refused at once, naming the file and the setup script', async () => {
    const bin = scratch.make('registry-bin-')
    const fake = join(bin, 'docker-registry')
    writeFileSync(fake, '#!/bin/sh\nexit 0\n')
    chmodSync(fake, 0o644)
    process.env['PATH'] = bin
    const { ms, message } = await refusal()
    expect(message).toContain(`docker-registry on PATH is not an executable file (${fake})`)
    expect(message).toContain('scripts/setup-system.sh')
    expect(ms).toBeLessThan(1000)
  })

  it('none on PATH: refused at once, naming the setup script and the package', async () => {
    const empty = scratch.make('registry-empty-')
    mkdirSync(join(empty, 'docker-registry'))
    process.env['PATH'] = empty
    const { ms, message } = await refusal()
    expect(message).toBe(
      'docker-registry on PATH is not an executable file (' +
        join(empty, 'docker-registry') +
        '): run scripts/setup-system.sh (it installs Debian’s docker-registry package), or take that file off PATH',
    )
    process.env['PATH'] = scratch.make('registry-none-')
    expect((await refusal()).message).toBe(
      'docker-registry is not installed (not on PATH): run scripts/setup-system.sh (it installs Debian’s docker-registry package)',
    )
    expect(ms).toBeLessThan(1000)
  })

  it('still starts from PATH when it is installed', async () => {
    const registry = await startRegistry()
    try {
      const response = await fetch(`http://${registry.host}/v2/`)
      expect(response.status).toBe(200)
    } finally {
      await registry.stop()
    }
  })
})
