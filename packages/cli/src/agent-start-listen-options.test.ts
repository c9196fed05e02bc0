/**
 * `agent start --allow-non-loopback` lets `--listen` name an address that is not loopback. Where
 * the guest API can only listen on loopback (no `--listen`: 127.0.0.1:8006; a loopback address;
 * `--listen none`), it allows nothing and is refused (exit 2, `ERR_OPTION_NOT_APPLICABLE`),
 * before the TEE or the document is read. `localhost` is a name a resolver may map elsewhere, so
 * the flag is taken with it.
 */
import { describe, expect, it } from 'vitest'
import { expectRefused, runInProcess as run } from './cli-test-support.ts'

/** A simulated guest that does not exist: a run that gets past the listener check says so. */
const START = [
  ...['agent', 'start', '--initdata', '/nonexistent/initdata.toml', '--tee', 'sim'],
  ...['--sim-dir', '/nonexistent/sim', '--sim-guest', 'web'],
]

describe('agent start --allow-non-loopback', () => {
  for (const listen of [undefined, '127.0.0.1:0', '127.1.2.3:8006', '[::1]:0']) {
    it(`with ${listen === undefined ? 'the default --listen' : `--listen ${listen}`}: exit 2`, async () => {
      const result = await run([
        ...START,
        ...(listen === undefined ? [] : ['--listen', listen]),
        '--allow-non-loopback',
      ])
      expectRefused(result, 2, 'ERR_OPTION_NOT_APPLICABLE')
      expect(result.stderr).toContain('--allow-non-loopback has no effect')
      expect(result.stderr).toContain('hint: drop --allow-non-loopback')
    })
  }

  for (const listen of ['0.0.0.0:0', '192.0.2.1:8006', 'localhost:0']) {
    it(`with --listen ${listen}: taken (the run goes on to the guest)`, async () => {
      const result = await run([...START, '--listen', listen, '--allow-non-loopback'])
      expectRefused(result, 7, 'ERR_SIM_DIR_MISSING')
    })
  }
})
