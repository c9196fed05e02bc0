/**
 * Waiting for the signal that stops a long-running command (`kbs serve`, `agent start`).
 *
 * @module
 */

/** Resolves with the first SIGINT or SIGTERM's name. */
export function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve(signal)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
