/**
 * The transports against peers that are not a well-behaved TPM: Unix-socket servers that close
 * early, declare an oversized response, send more than they declare, never answer, or are not
 * there; and character devices that are not a TPM (`/dev/null` answers nothing, `/dev/zero`
 * answers endlessly, `/dev/full` refuses the write). Paths that are neither a character device
 * nor a socket are refused before anything is sent. The well-behaved TPM (swtpm) is in
 * `tpm2-client.test.ts`.
 */
import { link, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, settledOutcome } from '@initguard/testkit'
import { Tpm2Client } from './tpm2-client.ts'
import { pcrReadCommand } from './tpm2-commands.ts'
import { DeviceTransport, openTpm2Transport, type DeviceHandle } from './tpm2-transport.ts'

let dir: string
let count = 0
const servers: Server[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'initguard-tpm-transport-'))
})

afterAll(async () => {
  for (const server of servers) server.close()
  await rm(dir, { recursive: true, force: true })
})

/** A Unix-socket server that answers each connection's first bytes with `answer`. */
async function peer(answer: (socket: Socket, command: Buffer) => void): Promise<string> {
  const path = join(dir, `peer-${count++}.sock`)
  const server = createServer((socket) => {
    socket.on('error', () => undefined)
    socket.once('data', (command) => {
      answer(socket, command)
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(path, resolve))
  return path
}

/** A well-formed TPM2_PCR_Read response for SHA-256 PCR 8 with all-0x5a value. */
const GOOD = Buffer.from(
  '80010000003e' +
    '00000000' +
    '00000001' +
    '00000001' +
    '000b03000100' +
    '00000001' +
    '0020' +
    '5a'.repeat(32),
  'hex',
)

const read = async (path: string, options: { timeoutMs?: number } = {}) => {
  const client = new Tpm2Client(await openTpm2Transport(path, options))
  try {
    return await client.readPcrSha256(8)
  } finally {
    await client.close()
  }
}

describe('Unix socket', () => {
  it('reads a response sent in pieces, and sends the command unchanged', async () => {
    let received = ''
    const path = await peer((socket, command) => {
      received = command.toString('hex')
      for (let i = 0; i < GOOD.length; i += 7) socket.write(GOOD.subarray(i, i + 7))
    })
    expect(await read(path)).toEqual(new Uint8Array(32).fill(0x5a))
    expect(received).toBe(Buffer.from(pcrReadCommand(8).bytes).toString('hex'))
  })

  it('a peer that closes before the header, or before the size the header declares: refused', async () => {
    const none = await peer((socket) => socket.end())
    expect(await settledOutcome(read(none))).toBe('malformed ERR_TPM_RESPONSE_TRUNCATED')
    const half = await peer((socket) => socket.end(GOOD.subarray(0, 20)))
    const error = await rejected(read(half))
    expect(error.code).toBe('ERR_TPM_RESPONSE_TRUNCATED')
    expect(error.message).toContain('after 20 bytes of the 62 its header declares')
  })

  it('an oversized declaration is refused at once, without waiting for the bytes', async () => {
    const path = await peer((socket) => socket.write(Buffer.from('800100100000', 'hex')))
    const started = Date.now()
    expect(await settledOutcome(read(path, { timeoutMs: 5000 }))).toBe(
      'malformed ERR_TPM_RESPONSE_TOO_LARGE',
    )
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('bytes past the declared size, a wrong tag, a size field below the header: refused', async () => {
    const more = await peer((socket) => socket.write(Buffer.concat([GOOD, Buffer.from([0, 0])])))
    expect(await settledOutcome(read(more))).toBe('malformed ERR_TPM_RESPONSE_SIZE')
    const tag = await peer((socket) =>
      socket.write(Buffer.concat([Buffer.from('00c4', 'hex'), GOOD.subarray(2)])),
    )
    expect(await settledOutcome(read(tag))).toBe('malformed ERR_TPM_RESPONSE_TAG')
    const small = await peer((socket) => socket.write(Buffer.from('800100000004', 'hex')))
    expect(await settledOutcome(read(small))).toBe('malformed ERR_TPM_RESPONSE_SIZE')
  })

  it('a peer that never answers: ERR_TPM_TIMEOUT after the time limit', async () => {
    const path = await peer(() => undefined)
    const started = Date.now()
    const error = await rejected(read(path, { timeoutMs: 200 }))
    expect(error.code).toBe('ERR_TPM_TIMEOUT')
    expect(error.message).toContain('within 200 ms')
    expect(Date.now() - started).toBeGreaterThanOrEqual(150)
  })

  it('an abort ends the command at once', async () => {
    const path = await peer(() => undefined)
    const client = new Tpm2Client(await openTpm2Transport(path))
    const controller = new AbortController()
    const pending = client.readPcrSha256(8, controller.signal)
    setTimeout(() => {
      controller.abort()
    }, 50)
    expect(await settledOutcome(pending)).toBe('unavailable ERR_TPM_ABORTED')
    const aborted = AbortSignal.abort()
    expect(await settledOutcome(client.readPcrSha256(8, aborted))).toBe(
      'unavailable ERR_TPM_ABORTED',
    )
  })

  it('a socket file nobody listens on any more: ERR_TPM_UNAVAILABLE (ECONNREFUSED)', async () => {
    const live = join(dir, 'live.sock')
    const stale = join(dir, 'stale.sock')
    const listener = createServer()
    await new Promise<void>((resolve) => listener.listen(live, resolve))
    // A second name for the socket survives the listener, which removes its own name on close.
    await link(live, stale)
    await new Promise<void>((resolve) =>
      listener.close(() => {
        resolve()
      }),
    )
    const error = await rejected(read(stale))
    expect(error.code).toBe('ERR_TPM_UNAVAILABLE')
    expect(error.details).toMatchObject({ errno: 'ECONNREFUSED' })
  })

  it.each([0, -1, 1.5, 600_001])('refuses the time limit %s', async (timeoutMs) => {
    const path = await peer(() => undefined)
    expect(await settledOutcome(openTpm2Transport(path, { timeoutMs }))).toBe(
      'usage ERR_TPM_TIMEOUT_INVALID',
    )
  })
})

describe('paths that are not a TPM', () => {
  it('a missing path: ERR_TPM_UNAVAILABLE, naming /dev/tpmrm0 and --tpm', async () => {
    const error = await rejected(openTpm2Transport(join(dir, 'no-such-tpm')))
    expect(error.code).toBe('ERR_TPM_UNAVAILABLE')
    expect(error.hint).toMatch(/\/dev\/tpmrm0.*--tpm/)
  })

  it('a regular file or a directory is refused before anything is written to it', async () => {
    const file = join(dir, 'file')
    await writeFile(file, 'x')
    expect(await settledOutcome(openTpm2Transport(file))).toBe('usage ERR_TPM_NOT_A_TPM')
    expect(await settledOutcome(openTpm2Transport(dir))).toBe('usage ERR_TPM_NOT_A_TPM')
  })
})

/**
 * A device whose read returns only when the test says so, as a wedged TPM's would (no real
 * character device hangs on demand): writes are taken whole, closes counted.
 */
function hangingDevice() {
  const state: { closes: number; reads: number; release: (bytes: Uint8Array) => void } = {
    closes: 0,
    reads: 0,
    release: () => undefined,
  }
  const handle: DeviceHandle = {
    write: (_buffer, _offset, length) => Promise.resolve({ bytesWritten: length }),
    read: (buffer) => {
      state.reads++
      return new Promise((resolve) => {
        state.release = (bytes) => {
          buffer.set(bytes)
          resolve({ bytesRead: bytes.length })
        }
      })
    },
    close: () => {
      state.closes++
      return Promise.resolve()
    },
  }
  return { handle, state }
}

describe('a character device that does not answer', () => {
  it('ERR_TPM_TIMEOUT; the device is given up (later commands refused) and closed once the read returns', async () => {
    const { handle, state } = hangingDevice()
    const client = new Tpm2Client(new DeviceTransport('/dev/tpmrm0', handle, 100))
    const error = await rejected(client.readPcrSha256(8))
    expect(error.code).toBe('ERR_TPM_TIMEOUT')
    expect(error.message).toBe('the TPM at /dev/tpmrm0 did not answer TPM2_PCR_Read within 100 ms')
    const later = await rejected(client.readPcrSha256(8))
    expect(later.code).toBe('ERR_TPM_GIVEN_UP')
    expect(later.message).toContain('did not answer TPM2_PCR_Read')
    expect(state.reads).toBe(1)
    expect(state.closes).toBe(0)
    state.release(GOOD)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(state.closes).toBe(1)
    await client.close()
    expect(state.closes).toBe(1)
  })

  it('a close that fails after a timeout is not an unhandled rejection', async () => {
    const { handle, state } = hangingDevice()
    const failing: DeviceHandle = {
      ...handle,
      close: () => {
        state.closes++
        return Promise.reject(new Error('EIO on close'))
      },
    }
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason)
    }
    process.on('unhandledRejection', onUnhandled)
    try {
      const client = new Tpm2Client(new DeviceTransport('/dev/tpmrm0', failing, 50))
      expect((await rejected(client.readPcrSha256(8))).code).toBe('ERR_TPM_TIMEOUT')
      state.release(GOOD)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(state.closes).toBe(1)
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('an abort in flight gives the device up the same way', async () => {
    const { handle, state } = hangingDevice()
    const client = new Tpm2Client(new DeviceTransport('/dev/tpmrm0', handle, 10_000))
    const controller = new AbortController()
    const pending = client.readPcrSha256(8, controller.signal)
    setTimeout(() => {
      controller.abort()
    }, 20)
    expect(await settledOutcome(pending)).toBe('unavailable ERR_TPM_ABORTED')
    expect(await settledOutcome(client.readPcrSha256(8))).toBe('unavailable ERR_TPM_GIVEN_UP')
    state.release(GOOD)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(state.closes).toBe(1)
  })

  it('a command waits for the one before it: the second write comes only after the first read', async () => {
    const { handle, state } = hangingDevice()
    const client = new Tpm2Client(new DeviceTransport('/dev/tpmrm0', handle, 10_000))
    const first = client.readPcrSha256(8)
    const second = client.readPcrSha256(8)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(state.reads).toBe(1)
    state.release(GOOD)
    expect(await first).toEqual(new Uint8Array(32).fill(0x5a))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(state.reads).toBe(2)
    state.release(GOOD)
    expect(await second).toEqual(new Uint8Array(32).fill(0x5a))
  })
})

describe('character devices that are not a TPM', () => {
  it('/dev/null answers nothing: refused as truncated', async () => {
    expect(await settledOutcome(read('/dev/null'))).toBe('malformed ERR_TRUNCATED')
  })

  it('/dev/zero answers more than 4096 bytes: refused as too large', async () => {
    expect(await settledOutcome(read('/dev/zero'))).toBe('malformed ERR_TPM_RESPONSE_TOO_LARGE')
  })

  it('/dev/full refuses the write: ERR_TPM_IO naming the device and errno', async () => {
    const error = await rejected(read('/dev/full'))
    expect(error.code).toBe('ERR_TPM_IO')
    expect(error.details).toMatchObject({ path: '/dev/full', errno: 'ENOSPC' })
  })

  it('several commands on one device each get their answer; once closed (idempotent), every command is refused', async () => {
    const transport = await openTpm2Transport('/dev/zero')
    const client = new Tpm2Client(transport)
    const all = await Promise.all([1, 2, 3].map((i) => settledOutcome(client.readPcrSha256(i))))
    expect(all).toEqual(new Array(3).fill('malformed ERR_TPM_RESPONSE_TOO_LARGE'))
    await client.close()
    await client.close()
    expect(await settledOutcome(client.readPcrSha256(8))).toBe('unavailable ERR_TPM_GIVEN_UP')
  })
})
