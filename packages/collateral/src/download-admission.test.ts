/**
 * The admission queue at the sizes its bound allows (a million waiting): thousands of waiters
 * giving up at once leave the live count right (the next ones are admitted, first come first
 * served, and the `maxQueued` check counts only the live), and no one who gave up is admitted.
 * Real timers (Vitest's fake ones take O(timers) to find the next due, seconds for thousands):
 * the bounds leave the later waiters hundreds of milliseconds of slack.
 */
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { DownloadAdmission, busyError, type AdmissionBound } from './download-admission.ts'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
/** Let settled promises run their handlers. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function admission(bound: AdmissionBound): DownloadAdmission {
  return new DownloadAdmission(bound, (why) => busyError('Test', 'TEST', why, bound))
}

/** A download that holds its slot until `end` is called. */
function holding(): { readonly work: () => Promise<void>; readonly end: () => void } {
  let end: () => void = () => undefined
  const done = new Promise<void>((resolve) => (end = resolve))
  return { work: () => done, end }
}

/** How each call ended so far: `ok`, the refusal's reason, or `undefined` while pending. */
function outcomes(calls: readonly Promise<unknown>[]): (string | undefined)[] {
  const ended: (string | undefined)[] = calls.map(() => undefined)
  calls.forEach((call, i) => {
    call.then(
      () => (ended[i] = 'ok'),
      (error: unknown) =>
        (ended[i] = isInitguardError(error) ? String(error.details['reason']) : String(error)),
    )
  })
  return ended
}

describe('DownloadAdmission, many waiters', () => {
  it('5000 waiters time out together; the queue then takes 5000 live ones again, in order', async () => {
    const slots = admission({ maxConcurrent: 1, maxQueued: 5000, maxWaitMs: 500 })
    const first = holding()
    const running = slots.run(first.work)
    const late = Array.from({ length: 5000 }, () => slots.run(() => Promise.resolve('late')))
    const lateEnded = outcomes(late)
    expect(slots.queued).toBe(5000)
    const full = outcomes([slots.run(() => Promise.resolve())])
    await settle()
    expect(full).toEqual(['queue-full'])
    expect(lateEnded.filter((end) => end !== undefined)).toEqual([])
    await sleep(550)
    expect(new Set(lateEnded)).toEqual(new Set(['waited-too-long']))
    expect([slots.running, slots.queued]).toEqual([1, 0])

    // The gave-up waiters no longer count: 5000 more wait, the 5001st is refused.
    const order: number[] = []
    const next = Array.from({ length: 5000 }, (_, i) =>
      slots.run(() => {
        order.push(i)
        return Promise.resolve()
      }),
    )
    const refused = outcomes([slots.run(() => Promise.resolve())])
    await settle()
    expect(refused).toEqual(['queue-full'])
    first.end()
    await running
    await Promise.all(next)
    expect(order).toEqual(Array.from({ length: 5000 }, (_, i) => i))
    expect([slots.running, slots.queued]).toEqual([0, 0])
  })

  it('passes over those who gave up: 3000 old give up while 1000 newer wait, who then run in order', async () => {
    const slots = admission({ maxConcurrent: 1, maxQueued: 4000, maxWaitMs: 1000 })
    const first = holding()
    const running = slots.run(first.work)
    const admitted: string[] = []
    const work = (name: string) => (): Promise<void> => {
      admitted.push(name)
      return Promise.resolve()
    }
    const old = Array.from({ length: 3000 }, (_, i) => slots.run(work(`old ${i}`)))
    const oldEnded = outcomes(old)
    await sleep(600)
    const newer = Array.from({ length: 1000 }, (_, i) => slots.run(work(`new ${i}`)))
    expect(slots.queued).toBe(4000)
    await sleep(500)
    expect(new Set(oldEnded)).toEqual(new Set(['waited-too-long']))
    expect(slots.queued).toBe(1000)
    // Room again for 3000 more waiting, but not 3001.
    const more = Array.from({ length: 3001 }, (_, i) => slots.run(work(`more ${i}`)))
    const moreEnded = outcomes(more)
    await settle()
    expect(moreEnded.filter((end) => end === 'queue-full')).toHaveLength(1)
    expect(moreEnded.at(-1)).toBe('queue-full')
    first.end()
    await running
    await Promise.all([...newer, ...more.slice(0, 3000)])
    expect(admitted).toEqual([
      ...Array.from({ length: 1000 }, (_, i) => `new ${i}`),
      ...Array.from({ length: 3000 }, (_, i) => `more ${i}`),
    ])
    expect([slots.running, slots.queued]).toEqual([0, 0])
  })

  it('gives the slot back when the queue empties, whether its waiters ran or gave up', async () => {
    const slots = admission({ maxConcurrent: 2, maxQueued: 2, maxWaitMs: 50 })
    const a = holding()
    const b = holding()
    const runs = [slots.run(a.work), slots.run(b.work)]
    const waiting = outcomes([
      slots.run(() => Promise.resolve()),
      slots.run(() => Promise.resolve()),
    ])
    await sleep(80)
    expect(waiting).toEqual(['waited-too-long', 'waited-too-long'])
    a.end()
    b.end()
    await Promise.all(runs)
    expect([slots.running, slots.queued]).toEqual([0, 0])
    const three = [1, 2, 3].map(() => holding())
    const started = three.map((h) => slots.run(h.work))
    expect([slots.running, slots.queued]).toEqual([2, 1])
    for (const h of three) h.end()
    await Promise.all(started)
    expect([slots.running, slots.queued]).toEqual([0, 0])
  })
})
