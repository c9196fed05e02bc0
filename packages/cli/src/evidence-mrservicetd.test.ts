/**
 * `evidence verify --expect-mrservicetd HEX`: a TDX 1.5 quote with a service TD bound is refused
 * unless its MRSERVICETD is named; the real v4 (TDX 1.0) quote binds none.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import {
  REAL_TDX_VERIFY,
  expectRefused,
  runInProcess,
  syntheticTdxVerify,
} from './cli-test-support.ts'

const run = runInProcess
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const SERVICE_TD = '5d'.repeat(48)
const ZERO = '00'.repeat(48)

/** `evidence verify` of a v5 quote whose MRSERVICETD is `mrServiceTd`, on a test PKI. */
function v5Verify(mrServiceTd: string): string[] {
  const dir = scratch.make('initguard-mrservicetd-')
  return syntheticTdxVerify(dir, { version: 5, mrServiceTd: Buffer.from(mrServiceTd, 'hex') }).args
}

describe('--expect-mrservicetd', () => {
  it('refuses a bound service TD unless named, and accepts exactly the one named', async () => {
    const args = v5Verify(SERVICE_TD)
    const refused = await run(args)
    expectRefused(refused, 5, 'ERR_TDX_MRSERVICETD_MISMATCH')
    expect(refused.stderr).toContain(`MRSERVICETD is ${SERVICE_TD}, expected ${ZERO}`)
    expect(refused.stderr).toContain('--expect-mrservicetd')
    const named = await run([...args, '--expect-mrservicetd', SERVICE_TD])
    expect(named.code, named.stderr).toBe(0)
    const other = await run([...args, '--expect-mrservicetd', 'ab'.repeat(48)])
    expectRefused(other, 5, 'ERR_TDX_MRSERVICETD_MISMATCH')
  })

  it('accepts a v5 quote with no service TD bound, and refuses it when one is required', async () => {
    const args = v5Verify(ZERO)
    expect((await run(args)).code).toBe(0)
    expectRefused(
      await run([...args, '--expect-mrservicetd', SERVICE_TD]),
      5,
      'ERR_TDX_MRSERVICETD_MISMATCH',
    )
  })

  it('the real v4 quote (TDX 1.0) binds no service TD', async () => {
    const plain = await run(REAL_TDX_VERIFY)
    expect(plain.code, plain.stderr).toBe(0)
    expect((await run([...REAL_TDX_VERIFY, '--expect-mrservicetd', ZERO])).code).toBe(0)
    const required = await run([...REAL_TDX_VERIFY, '--expect-mrservicetd', SERVICE_TD])
    expectRefused(required, 5, 'ERR_TDX_MRSERVICETD_MISMATCH')
    expect(required.stderr).toContain('TDX 1.0')
  })
})
