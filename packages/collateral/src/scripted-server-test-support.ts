/**
 * Test support: a loopback HTTP server standing in for KDS or a PCCS, answering each path with
 * what a test scripted (a body, and a header such as an issuer chain), 404 otherwise, and keeping
 * the paths it was asked for.
 */
import { afterAll, beforeAll } from 'vitest'
import { startLoopbackServer, type LoopbackServer } from '@initguard/testkit'

/** One scripted answer: a body, and optionally one response header. */
export interface ScriptedAnswer {
  readonly header?: readonly [string, string]
  readonly body: string | Uint8Array
}

/** The server's script and record; `baseUrl` once the suite started. */
export interface ScriptedServer {
  /** What each path is answered with; replace or change it per test. */
  answers: Record<string, ScriptedAnswer>
  /** The paths asked for, in order; clear it per test. */
  requests: string[]
  readonly baseUrl: string
}

/** Start the server before the suite's tests and close it after them. */
export function scriptedServer(): ScriptedServer {
  let server: LoopbackServer | undefined
  const scripted = {
    answers: {} as Record<string, ScriptedAnswer>,
    requests: [] as string[],
    get baseUrl(): string {
      if (server === undefined) throw new Error('the scripted server has not started')
      return server.baseUrl
    },
  }
  beforeAll(async () => {
    server = await startLoopbackServer((req, res) => {
      const url = req.url ?? ''
      scripted.requests.push(url)
      const found = scripted.answers[url]
      if (found === undefined) return void res.writeHead(404).end()
      if (found.header !== undefined) res.setHeader(...found.header)
      res.end(found.body)
    })
  })
  afterAll(async () => {
    await server?.close()
  })
  return scripted
}
