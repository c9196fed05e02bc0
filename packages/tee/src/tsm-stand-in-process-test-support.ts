/**
 * The stand-in kernel: a separate process (forked by `tsm-stand-in-test-support.ts`) that answers
 * a stand-in configfs-tsm tree and a stand-in Gramine `/dev/attestation` the way the kernel and
 * Gramine do, with real-format reports signed under a fresh simulator PKI.
 *
 * configfs-tsm entry, once the parent says it was made (`populate`):
 * - `provider`, `generation`, `inblob`, and for `sev_guest` `privlevel`, `privlevel_floor` and
 *   `auxblob` (the certificate table) are ordinary files;
 * - `outblob` is a FIFO, so the agent's read blocks until this process answers, as the kernel's
 *   does while the TEE makes the report. When the read arrives it reads `inblob` (and
 *   `privlevel`, which becomes the report's VMPL), builds the report over it (SNP: fixed
 *   HOST_DATA; TDX: fixed MRCONFIGID), bumps `generation` by one as the kernel's inblob write
 *   would, then writes the report.
 * - Scenario knobs (`outblobFormat`: answer in another provider's format): `concurrentWriter` (another writer puts its own inblob in after the agent's:
 *   the report is over that, and generation rises by two), `otherReportData` (the report answers
 *   other REPORT_DATA, generation +1), `emptyOutblob`, `noCerts`, `privlevelFloor`, `provider`.
 * - On `remove` it does the part of configfs's rmdir an ordinary directory cannot: it releases an
 *   unanswered `outblob` and deletes the attribute files. The parent then calls the real `rmdir`.
 *
 * The stand-in does not count the agent's `privlevel` write in `generation` (it cannot see
 * ordinary-file writes as they happen); the agent reads `generation` after that write anyway.
 *
 * Gramine (`gramine`): `attestation_type` and `user_report_data` are files, `quote` a FIFO
 * answered with an SGX v3 quote (fixed CONFIGID) over `user_report_data`, for as many reads as
 * come.
 *
 * @module
 */
import { generateKeyPairSync } from 'node:crypto'
import { constants, openSync, closeSync } from 'node:fs'
import { mkdir, open, readdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { hexToBytes } from '@initguard/core'
import { buildCertTable } from '@initguard/snp'
import {
  buildSgxQuote,
  buildSnpReport,
  buildTdxQuote,
  createSimulatorMaterial,
  encodeTcbVersion,
  SIMULATOR_SNP_MEASUREMENT_HEX,
} from '@initguard/tee-simulator'
import type { StandInReply, StandInRequest, TsmScenario } from './tsm-stand-in-test-support.ts'
import {
  STAND_IN_CONFIG_ID,
  STAND_IN_HOST_DATA,
  STAND_IN_MR_CONFIG_ID,
} from './tsm-stand-in-test-support.ts'

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 })
const material = createSimulatorMaterial({ now: new Date(), amdKeys: { ark: rsa(), ask: rsa() } })
const signer = {
  privateKey: material.tdx.pckPrivateKey,
  chainPem: material.tdx.pckChainPem,
  attestationKey: material.tdx.attestationKey,
}
const der = (pem: string) =>
  new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'))

function send(reply: StandInReply): void {
  process.send?.(reply)
}

interface Entry {
  answered: boolean
  cancelled: boolean
}
const entries = new Map<string, Entry>()

function snpReport(reportData: Uint8Array, vmpl: number): Uint8Array {
  const tcb = encodeTcbVersion(material.snp.reportedTcb, material.snp.product)
  return buildSnpReport(
    {
      product: material.snp.product,
      version: 3,
      policy: 0x30000n,
      vmpl,
      reportData,
      hostData: STAND_IN_HOST_DATA,
      measurement: hexToBytes(SIMULATOR_SNP_MEASUREMENT_HEX),
      chipId: material.snp.chipId,
      currentTcb: tcb,
      reportedTcb: tcb,
      committedTcb: tcb,
      launchTcb: tcb,
    },
    material.snp.vcekPrivateKey,
  )
}

function report(provider: string, reportData: Uint8Array, vmpl: number): Uint8Array {
  if (provider === 'sev_guest') return snpReport(reportData, vmpl)
  if (provider === 'tdx_guest') {
    return buildTdxQuote({ version: 4, mrConfigId: STAND_IN_MR_CONFIG_ID, reportData }, signer)
  }
  return new TextEncoder().encode(`a ${provider} token`)
}

async function populate(path: string, scenario: TsmScenario): Promise<void> {
  const at = (name: string) => join(path, name)
  const snp = scenario.provider === 'sev_guest'
  await writeFile(at('provider'), `${scenario.provider}\n`)
  await writeFile(at('generation'), '0\n')
  await writeFile(at('inblob'), new Uint8Array(0))
  if (snp) {
    await writeFile(at('privlevel'), '0\n')
    await writeFile(at('privlevel_floor'), `${scenario.privlevelFloor ?? 0}\n`)
    const certificates = [
      { kind: 'vcek' as const, data: der(material.snp.vcekPem) },
      { kind: 'ask' as const, data: der(material.snp.askPem) },
      { kind: 'ark' as const, data: der(material.snp.arkPem) },
    ]
    await writeFile(
      at('auxblob'),
      scenario.noCerts === true ? new Uint8Array(0) : buildCertTable(certificates),
    )
  }
  execFileSync('mkfifo', [at('outblob')])
  const entry: Entry = { answered: false, cancelled: false }
  entries.set(path, entry)
  // Blocks (on a worker thread) until the agent opens outblob for reading.
  const answer = open(at('outblob'), 'w').then(async (fifo) => {
    try {
      if (entry.cancelled) return
      let inblob = new Uint8Array(await readFile(at('inblob')))
      const vmpl = snp ? Number((await readFile(at('privlevel'), 'utf8')).trim()) : 0
      let generation = Number((await readFile(at('generation'), 'utf8')).trim()) + 1
      if (scenario.concurrentWriter === true) {
        inblob = new Uint8Array(64).fill(0xee)
        await writeFile(at('inblob'), inblob)
        generation += 1
      }
      if (scenario.otherReportData === true) inblob = inblob.map((b, i) => (i === 0 ? b ^ 0xff : b))
      await writeFile(at('generation'), `${generation}\n`)
      if (scenario.emptyOutblob !== true)
        await fifo.write(report(scenario.outblobFormat ?? scenario.provider, inblob, vmpl))
      entry.answered = true
    } finally {
      await fifo.close()
    }
  })
  answer.catch((error: unknown) => {
    console.error(`stand-in: answering ${path}/outblob failed: ${String(error)}`)
  })
}

async function remove(path: string): Promise<void> {
  const entry = entries.get(path)
  if (entry !== undefined && !entry.answered) {
    // Release our own blocked open of outblob: open its read end without blocking, then close.
    entry.cancelled = true
    closeSync(openSync(join(path, 'outblob'), constants.O_RDONLY | constants.O_NONBLOCK))
  }
  entries.delete(path)
  for (const name of await readdir(path)) await unlink(join(path, name))
}

async function serveGramine(dir: string, attestationType: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'attestation_type'), `${attestationType}\n`)
  await writeFile(join(dir, 'user_report_data'), new Uint8Array(64))
  execFileSync('mkfifo', [join(dir, 'quote')])
  const loop = async (): Promise<void> => {
    for (;;) {
      const fifo = await open(join(dir, 'quote'), 'w')
      try {
        const reportData = new Uint8Array(await readFile(join(dir, 'user_report_data')))
        await fifo.write(buildSgxQuote({ configId: STAND_IN_CONFIG_ID, reportData }, signer))
      } finally {
        await fifo.close()
      }
    }
  }
  void loop()
}

process.on('message', (message: StandInRequest) => {
  const run = async (): Promise<void> => {
    if (message.type === 'populate') await populate(message.path, message.scenario)
    else if (message.type === 'remove') await remove(message.path)
    else await serveGramine(message.dir, message.attestationType)
  }
  run().then(
    () => {
      send({ type: 'done', id: message.id })
    },
    (error: unknown) => {
      send({ type: 'failed', id: message.id, message: String(error) })
    },
  )
})

send({
  type: 'ready',
  trust: {
    product: material.snp.product,
    arkPem: material.snp.arkPem,
    askPem: material.snp.askPem,
    intelRootPem: material.tdx.rootPem,
    collateralJson: material.tdx.collateralJson,
  },
})
