/**
 * Scratch directories for a test file: made under the OS's temporary directory and removed
 * together once the file's tests are done, so that a run leaves nothing in `/tmp`. A file makes one
 * set at the top and hands its removal to the runner (`afterAll(() => { scratch.removeAll() })`);
 * the set does not import the runner itself, so this package needs none.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The directories one test file made, to be removed after its tests. */
export class ScratchDirectories {
  readonly #made: string[] = []

  /** A new empty directory whose name starts with `prefix` (as `mkdtemp` gives it). */
  make(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    this.#made.push(dir)
    return dir
  }

  /** Remove every directory made so far, with what is in it; already removed ones are fine. */
  removeAll(): void {
    for (const dir of this.#made.splice(0)) rmSync(dir, { recursive: true, force: true })
  }
}
