/**
 * The streams a command talks to, passed in so tests run commands in-process.
 *
 * @module
 */

/** Something text and bytes can be written to. */
export interface OutputStream {
  write(chunk: string | Uint8Array): unknown
  readonly isTTY?: boolean
}

/** A command's standard streams. */
export interface CliIo {
  readonly stdout: OutputStream
  readonly stderr: OutputStream
  readonly stdin: NodeJS.ReadableStream
}
