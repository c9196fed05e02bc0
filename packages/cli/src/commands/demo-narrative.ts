/**
 * How the demo tells its story: numbered steps, and a result per check (`✓` as expected, `✗`
 * not), counted so the demo exits 0 only when every outcome is the expected one.
 *
 * @module
 */
import { isInitguardError } from '@initguard/core'
import type { CliIo } from '../cli-io.ts'

/** The demo's output, and the tally of its checks. */
export class Narrative {
  readonly #io: CliIo
  #steps = 0
  #passed = 0
  readonly #failed: string[] = []

  constructor(io: CliIo) {
    this.#io = io
  }

  /** A plain line (indented under the current step when `indent`). */
  say(text = '', indent = false): void {
    this.#io.stdout.write(`${indent ? '    ' : ''}${text}\n`)
  }

  /** Start the next numbered step. */
  step(title: string): void {
    this.#steps += 1
    this.say()
    this.say(`── ${this.#steps}. ${title}`)
  }

  /** A check that came out as expected. */
  pass(text: string): void {
    this.#passed += 1
    this.say(`  ✓ ${text}`)
  }

  /** A check that did not. */
  fail(text: string): void {
    this.#failed.push(text)
    this.say(`  ✗ ${text}`)
  }

  /** `pass(text)` when `ok`, else `fail` with `why` appended. */
  check(ok: boolean, text: string, why = ''): boolean {
    if (ok) this.pass(text)
    else this.fail(why === '' ? text : `${text}: ${why}`)
    return ok
  }

  /** A detail line under the last result. */
  detail(text: string): void {
    for (const line of text.split('\n')) this.say(`    ${line}`)
  }

  /**
   * Run one part of the story; an error it throws is a failed check (with its code and hint), so
   * the parts after it still run and the demo still ends with its tally.
   */
  async attempt(what: string, part: () => Promise<void>): Promise<boolean> {
    try {
      await part()
      return true
    } catch (error) {
      if (!isInitguardError(error)) throw error
      this.fail(`${what}: ${error.message} (${error.code})`)
      if (error.hint !== undefined) this.detail(`hint: ${error.hint}`)
      return false
    }
  }

  /** Every check so far went as expected (and there was at least one). */
  get allExpected(): boolean {
    return this.#failed.length === 0 && this.#passed > 0
  }

  /** The closing line: how many checks, which failed. */
  summary(seconds: number): string {
    const total = this.#passed + this.#failed.length
    return this.#failed.length === 0
      ? `Result: all ${total} outcomes as expected (${seconds.toFixed(1)} s).`
      : `Result: ${this.#failed.length} of ${total} outcomes NOT as expected (${seconds.toFixed(1)} s):\n${this.#failed.map((f) => `  ✗ ${f}`).join('\n')}`
  }
}
