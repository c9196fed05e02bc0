import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  PCR_BANK_LENGTHS,
  commandOnPath,
  startSwtpm,
  startUnixSwtpm,
  type PcrBank,
  type Swtpm,
} from './swtpm.ts'

/** True while a process with this id exists (signal 0 checks without sending anything). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('startSwtpm', () => {
  let tpm: Swtpm
  beforeAll(async () => {
    tpm = await startSwtpm()
  })
  afterAll(() => tpm.stop())

  it('answers at once on 127.0.0.1, with every PCR of every default bank at zero', async () => {
    expect(tpm.tcti).toBe(`swtpm:host=127.0.0.1,port=${tpm.port}`)
    expect(tpm.ctrlPort).not.toBe(tpm.port)
    for (const bank of Object.keys(PCR_BANK_LENGTHS) as PcrBank[]) {
      expect(await tpm.readPcr(8, bank)).toEqual(new Uint8Array(PCR_BANK_LENGTHS[bank]))
    }
  })

  it('extends through tpm2-tools, and each start is a fresh TPM', async () => {
    await tpm.extendPcr(16, 'sha256', new Uint8Array(32).fill(1))
    expect(await tpm.readPcr(16, 'sha256')).not.toEqual(new Uint8Array(32))
    await using other = await startSwtpm()
    expect(other.port).not.toBe(tpm.port)
    expect(await other.readPcr(16, 'sha256')).toEqual(new Uint8Array(32))
  })

  it('reports what tpm2-tools said when a command fails, and refuses a PCR index past 23', async () => {
    await expect(tpm.tpm2('pcrextend', ['8:sha256=00'])).rejects.toThrow(
      /tpm2_pcrextend 8:sha256=00 failed: .*expects a size of 32 bytes/,
    )
    await expect(tpm.readPcr(24, 'sha256')).rejects.toThrow(/PCR 24 is not a PC Client PCR/)
  })

  it('stops by its process id and removes its state directory; stop is idempotent', async () => {
    const other = await startSwtpm()
    expect(processExists(other.pid)).toBe(true)
    expect(existsSync(other.stateDir)).toBe(true)
    await other.stop()
    await other.stop()
    expect(processExists(other.pid)).toBe(false)
    expect(existsSync(other.stateDir)).toBe(false)
    await expect(other.readPcr(8, 'sha256')).rejects.toThrow(
      /tpm2_pcrread sha256:8 .* failed: (.|\n)*Could not load tcti(.|\n)*is this swtpm still running\?/,
    )
  })
})

/** One raw TPM command on a Unix socket, and the response header's tag, size and response code. */
function rawHeader(path: string, command: string): Promise<[number, number, number]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path })
    let answer = Buffer.alloc(0)
    socket.once('error', reject)
    socket.once('connect', () => socket.write(Buffer.from(command, 'hex')))
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk])
      if (answer.length >= 10) {
        socket.destroy()
        resolve([answer.readUInt16BE(0), answer.readUInt32BE(2), answer.readUInt32BE(6)])
      }
    })
  })
}

/** TPM2_GetRandom(8): tag TPM_ST_NO_SESSIONS, size 12, TPM_CC_GetRandom, bytesRequested 8. */
const GET_RANDOM = '80010000000c0000017b0008'

describe('startUnixSwtpm', () => {
  it('takes raw TPM commands on a Unix socket in its state directory; tpm2-tools reach it too', async () => {
    await using tpm = await startUnixSwtpm()
    expect(tpm.socketPath).toBe(join(tpm.stateDir, 'tpm.sock'))
    expect(tpm.ctrlPath).toBe(`${tpm.socketPath}.ctrl`)
    expect(tpm.tcti).toBe(`swtpm:path=${tpm.socketPath}`)
    expect(statSync(tpm.socketPath).isSocket()).toBe(true)
    expect(await rawHeader(tpm.socketPath, GET_RANDOM)).toEqual([0x8001, 20, 0])
    await tpm.extendPcr(16, 'sha256', new Uint8Array(32).fill(1))
    expect(await tpm.readPcr(16, 'sha256')).not.toEqual(new Uint8Array(32))
    await tpm.stop()
    expect(existsSync(tpm.stateDir)).toBe(false)
  })

  it('reboot resets every PCR and starts the TPM again', async () => {
    await using tpm = await startUnixSwtpm()
    await tpm.extendPcr(8, 'sha256', new Uint8Array(32).fill(1))
    expect(await tpm.readPcr(8, 'sha256')).not.toEqual(new Uint8Array(32))
    await tpm.reboot()
    expect(await tpm.readPcr(8, 'sha256')).toEqual(new Uint8Array(32))
    expect(await rawHeader(tpm.socketPath, GET_RANDOM)).toEqual([0x8001, 20, 0])
  })

  it('started: false is a TPM before TPM2_Startup: every command answered TPM_RC_INITIALIZE', async () => {
    await using tpm = await startUnixSwtpm({ started: false })
    expect(await rawHeader(tpm.socketPath, GET_RANDOM)).toEqual([0x8001, 10, 0x100])
  })
})

describe('commandOnPath', () => {
  it('passes over a file of that name it cannot run, as execvp does, and names it when no other follows', () => {
    const first = mkdtempSync(join(tmpdir(), 'initguard-path-'))
    const second = mkdtempSync(join(tmpdir(), 'initguard-path-'))
    try {
      writeFileSync(join(first, 'tool'), '#!/bin/sh\n')
      chmodSync(join(first, 'tool'), 0o644)
      mkdirSync(join(second, 'tool'))
      expect(() => commandOnPath('tool', 'tool-pkg', [first, second].join(delimiter))).toThrow(
        `tool on PATH is not an executable file (${join(first, 'tool')}, ${join(second, 'tool')}): run scripts/setup-system.sh (it installs Debian’s tool-pkg package), or take that file off PATH`,
      )
      rmSync(join(second, 'tool'), { recursive: true })
      writeFileSync(join(second, 'tool'), '#!/bin/sh\n')
      chmodSync(join(second, 'tool'), 0o755)
      expect(commandOnPath('tool', 'tool-pkg', [first, second].join(delimiter))).toBe(
        join(second, 'tool'),
      )
    } finally {
      rmSync(first, { recursive: true, force: true })
      rmSync(second, { recursive: true, force: true })
    }
  })

  it('finds a command, and names scripts/setup-system.sh and the package when it is missing', () => {
    expect(commandOnPath('swtpm', 'swtpm')).toMatch(/\/swtpm$/)
    expect(() => commandOnPath('swtpm', 'swtpm', '/nonexistent')).toThrow(
      'swtpm is not installed (not on PATH): run scripts/setup-system.sh (it installs Debian’s swtpm package)',
    )
  })
})
