/**
 * A free TCP port on 127.0.0.1 for a server a test starts as a child process (PostgreSQL, swtpm),
 * which must be told its port up front rather than choosing one itself.
 *
 * @module
 */
import { createServer } from 'node:net'

/**
 * A port nothing listens on right now (listen on 0, read it, close). Another process may take it
 * before the server binds it: callers retry the start a few times.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => {
        resolve(port)
      })
    })
  })
}

/**
 * Two free ports in a row, `[port, port + 1]`, for a server whose clients find its second channel
 * at the next port (swtpm's control channel, as the swtpm TCTI expects it). Same race as
 * {@link freePort}.
 */
export async function freePortPair(): Promise<readonly [number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort()
    if (port < 65535 && (await canListen(port + 1))) return [port, port + 1]
  }
  throw new Error('no two free ports in a row on 127.0.0.1 after 50 tries')
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => {
      resolve(false)
    })
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolve(true)
      })
    })
  })
}
