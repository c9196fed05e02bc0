/**
 * Stopping the KBS: a request still in flight gets the grace, then its connection is closed, so
 * `close()` ends within it (Kubernetes sends SIGKILL 30 s after SIGTERM).
 */
import { once } from 'node:events'
import { connect } from 'node:tls'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { startTestKbs } from './kbs-test-support.ts'

describe('close()', () => {
  it('closes a connection whose request is still in flight once the grace is over', async () => {
    const kbs = await startTestKbs({ closeGraceMs: 300 })
    const url = new URL(kbs.kbs.url)
    // A request whose body never comes: the server would wait for it until its request
    // timeout (30 s by default).
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      ca: kbs.kbs.tls?.certPem,
      checkServerIdentity: () => undefined,
    })
    await once(socket, 'secureConnect')
    socket.write(
      'POST /kbs/v0/auth HTTP/1.1\r\nHost: kbs\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    )
    const closed = once(socket, 'close')
    await sleep(200)
    const started = performance.now()
    await kbs.stop()
    expect(performance.now() - started).toBeLessThan(3000)
    await closed
  })
})
