import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from './scratch-directories.ts'
import { spawnServer } from './server-process.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

/** Wait until `server` is no longer alive, at most `ms`; how long it took. */
async function untilDead(server: { alive: () => boolean }, ms: number): Promise<number> {
  const started = Date.now()
  while (server.alive() && Date.now() - started < ms) await new Promise((r) => setTimeout(r, 5))
  return Date.now() - started
}

describe('spawnServer', () => {
  it('a file it cannot run: not alive at once, the spawn error named, no unhandled error event', async () => {
    const file = join(scratch.make('server-process-'), 'server')
    writeFileSync(file, '#!/bin/sh\nsleep 60\n')
    chmodSync(file, 0o644)
    const server = spawnServer(file, [])
    expect(await untilDead(server, 2000)).toBeLessThan(500)
    expect(server.why()).toBe(`cannot run ${file}: spawn ${file} EACCES`)
    await server.stop()
  })

  it('keeps the output of a server that exits, with its exit code', async () => {
    const server = spawnServer('/bin/sh', ['-c', 'echo listening failed >&2; exit 3'])
    await untilDead(server, 5000)
    await server.stop()
    expect(server.why()).toBe('listening failed (exit code 3)')
  })

  it('stops a running server', async () => {
    const server = spawnServer('/bin/sleep', ['60'])
    expect(server.alive()).toBe(true)
    await server.stop()
    expect(server.alive()).toBe(false)
    expect(server.why()).toBe('(no output) (killed by SIGTERM)')
  })
})
