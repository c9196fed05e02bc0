/**
 * The guest API's Unix socket: created mode 0600 (under a umask that gives exactly that, never
 * briefly wider) and then checked with `lstat`, not `chmod`ed (a `chmod` by path would follow a
 * symlink swapped in after `listen`). A stale socket left by a crash is replaced only when it is
 * ours (same uid) and nothing answers on it; anything else at the path is refused, and so is a
 * path in a directory another user could replace the socket in (`trusted-path.ts`).
 *
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createConnection } from 'node:net'
import { lstat, unlink } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import type { Duplex } from 'node:stream'
import { LocalIoError } from '@initguard/core'
import { replaceableBy } from './trusted-path.ts'

/** A request handler as `node:http` calls it. */
export type GuestApiHandler = (request: IncomingMessage, response: ServerResponse) => void

/** True when something answers on the socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', () => {
      resolve(false)
    })
  })
}

const uid = (): number | undefined => process.getuid?.()

function inUse(path: string, why: string): LocalIoError {
  return new LocalIoError('ERR_AGENT_SOCKET_IN_USE', `${path} ${why}`, {
    details: { path },
    hint: 'stop the other agent, or give another --socket path',
  })
}

function replaceableSocket(path: string, why: string): LocalIoError {
  return new LocalIoError(
    'ERR_AGENT_SOCKET',
    `the socket ${path} could be replaced by another user, and its clients would talk to them: ${why}`,
    {
      details: { path },
      hint: 'put the socket in a directory only the agent’s user and root can write (e.g. under /run), or a sticky one',
    },
  )
}

/** Remove a stale socket of ours at `path`; refuse a live one, another user's, or a non-socket. */
async function clearSocketPath(path: string): Promise<void> {
  let found: Stats
  try {
    found = await lstat(path)
  } catch {
    return
  }
  if (!found.isSocket()) throw inUse(path, 'exists and is not a socket')
  const own = uid()
  if (own !== undefined && found.uid !== own)
    throw inUse(path, `is a socket of another user (uid ${found.uid})`)
  if (await socketAnswers(path)) throw inUse(path, 'is the socket of a running server')
  await unlink(path)
}

/** What is wrong with the socket file just created at `path`, or undefined. */
async function socketProblem(path: string): Promise<string | undefined> {
  const found = await lstat(path).catch(() => undefined)
  if (found === undefined) return 'is gone'
  if (!found.isSocket()) return 'is not a socket'
  const own = uid()
  if (own !== undefined && found.uid !== own) return `belongs to uid ${found.uid}`
  const mode = found.mode & 0o777
  return mode === 0o600 ? undefined : `has mode ${mode.toString(8)}, not 600`
}

/**
 * Serve on the Unix socket `path` with `server` (not yet listening; see the module comment);
 * `clientError` answers requests Node cannot parse.
 *
 * @throws {@link LocalIoError} `ERR_AGENT_SOCKET_IN_USE`, `ERR_AGENT_SOCKET`.
 */
export async function listenUnix(
  path: string,
  server: Server,
  clientError: (error: Error, socket: Duplex) => void,
): Promise<Server> {
  const replaceable = await replaceableBy(path)
  if (replaceable !== undefined) throw replaceableSocket(path, replaceable)
  await clearSocketPath(path)
  server.on('clientError', clientError)
  const umask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (cause) {
    throw new LocalIoError('ERR_AGENT_SOCKET', `cannot listen on the socket ${path}`, {
      cause,
      details: { path },
      hint: 'check that the directory exists and is writable',
    })
  } finally {
    process.umask(umask)
  }
  const problem = await socketProblem(path)
  // Checked again now that the socket exists: the check before `listen` passes over a directory
  // that does not exist yet, and another user could make it (in a sticky parent such as /tmp)
  // before `listen` creates the socket in it.
  const replaceableNow = problem === undefined ? await replaceableBy(path) : undefined
  if (problem !== undefined || replaceableNow !== undefined) {
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve()
      })
    })
    if (replaceableNow !== undefined) throw replaceableSocket(path, replaceableNow)
    throw new LocalIoError('ERR_AGENT_SOCKET', `the socket ${path} ${problem} after listen`, {
      details: { path },
      hint: 'something changed the socket file under the agent: use a directory only this user can write',
    })
  }
  return server
}
