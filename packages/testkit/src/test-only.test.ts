/**
 * testkit is for tests only: no package depends on it at run time (lint also refuses any import
 * of it from a runtime module).
 */
import { readFileSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const PACKAGES = new URL('../../', import.meta.url)

describe('@initguard/testkit', () => {
  it('is a runtime dependency of no package', () => {
    const dependents = readdirSync(PACKAGES).filter((name) => {
      const manifest = JSON.parse(
        readFileSync(new URL(`${name}/package.json`, PACKAGES), 'utf8'),
      ) as { dependencies?: Record<string, string> }
      return Object.hasOwn(manifest.dependencies ?? {}, '@initguard/testkit')
    })
    expect(dependents).toEqual([])
  })
})
