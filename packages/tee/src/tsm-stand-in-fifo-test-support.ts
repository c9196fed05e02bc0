/**
 * FIFOs that make ordinary files behave like kernel attributes, for the stand-in kernel process:
 *
 * - a served attribute (`outblob`, `generation`, Gramine's `quote` and `report`) is a FIFO the
 *   stand-in answers on each read, computing the value at that moment, as the kernel does;
 * - a written attribute (`inblob`, `privlevel`) is a FIFO the stand-in holds open for reading
 *   (non-blocking, so writers never wait) and drains whenever it answers a read: every write the
 *   agent finished before it opened the attribute it reads is in the pipe by then, so nothing is
 *   missed, and each one is counted.
 *
 * @module
 */
import { constants, closeSync, openSync, readSync } from 'node:fs'
import { open, unlink } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'

/** Make a FIFO at `path`. */
export function mkfifo(path: string): void {
  execFileSync('mkfifo', [path])
}

/** A written attribute: a FIFO held open for reading; {@link WrittenFifo.drain} takes what came. */
export interface WrittenFifo {
  /** The bytes written since the last drain (empty when nothing was). */
  drain(): Uint8Array
  close(): void
}

/** Make `path` a FIFO and hold it open for reading without blocking. */
export function writtenFifo(path: string): WrittenFifo {
  mkfifo(path)
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  return {
    drain() {
      const chunks: Buffer[] = []
      const buffer = Buffer.alloc(4096)
      for (;;) {
        let n: number
        try {
          n = readSync(fd, buffer)
        } catch (error) {
          // EAGAIN: a writer has it open but nothing more is in the pipe.
          if ((error as { code?: unknown }).code === 'EAGAIN') break
          throw error
        }
        if (n === 0) break
        chunks.push(Buffer.from(buffer.subarray(0, n)))
      }
      return new Uint8Array(Buffer.concat(chunks))
    },
    close() {
      closeSync(fd)
    },
  }
}

/** A served attribute: answered on every read until {@link ServedFifo.stop}. */
export interface ServedFifo {
  /** Stop answering; resolves once the answering loop has ended. */
  stop(): Promise<void>
}

/**
 * Answer every read of the FIFO `path` with `answer()`. Each answer gets a FIFO of its own: the
 * answered one is replaced before its write end closes, so a reader still draining it never sees
 * the next answer, and the next reader blocks until this loop has opened the new one.
 */
export function servedFifo(path: string, answer: () => Promise<Uint8Array | string>): ServedFifo {
  mkfifo(path)
  // Objects, not `let`s: the loop reads what `stop` sets later.
  const state = { stopped: false, ended: false }
  const stopped = () => state.stopped
  const loop = (async () => {
    while (!stopped()) {
      // Blocks (on a worker thread) until a reader opens the FIFO.
      const fifo = await open(path, 'w')
      try {
        if (!stopped()) await fifo.writeFile(await answer())
      } finally {
        if (!stopped()) {
          await unlink(path)
          mkfifo(path)
        }
        await fifo.close()
      }
    }
  })()
  const ended = loop.then(
    () => true,
    (error: unknown) => {
      console.error(`stand-in: answering ${path} failed: ${String(error)}`)
      return true
    },
  )
  return {
    async stop() {
      state.stopped = true
      void ended.then(() => (state.ended = true))
      // Release the loop's blocked open: open the read end without blocking, and again until the
      // loop has ended (its open may not have reached the kernel yet on the first try).
      while (!state.ended) {
        try {
          closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK))
        } catch {
          // The FIFO is being replaced: try again.
        }
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
    },
  }
}
