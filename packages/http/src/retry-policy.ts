/**
 * When to retry and how long to wait: network errors, HTTP 429 and 5xx only; exponential backoff
 * with jitter; the server's `Retry-After` (seconds or an HTTP date) honoured up to a cap.
 *
 * @module
 */

/** Whether a status is worth another attempt: 429 (throttled) and 5xx (server failing). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599)
}

/**
 * Milliseconds a `Retry-After` header asks for: delta seconds, or an HTTP date relative to `now`
 * (a date in the past is 0). `undefined` when absent or unreadable.
 */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined
  const text = header.trim()
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000
  // Only the HTTP-date form: Date.parse alone would also take "3" or "2024" as dates.
  if (!/^[A-Za-z]{3,9},? /.test(text)) return undefined
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** The wait before retry `n` (1-based): `base·2ⁿ⁻¹`, jittered to 50–100 % with `random` ∈ [0, 1). */
export function backoffDelay(baseMs: number, retry: number, random: number): number {
  const delay = baseMs * 2 ** (retry - 1)
  return delay / 2 + (random * delay) / 2
}

/** A timer that resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleepTimer(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error)
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason as Error)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
