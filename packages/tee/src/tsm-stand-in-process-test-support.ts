/**
 * The stand-in kernel: a separate process (forked by `tsm-stand-in-test-support.ts`) that answers
 * a stand-in configfs-tsm tree and a stand-in Gramine `/dev/attestation` the way the kernel and
 * Gramine do, with real-format reports signed under a fresh simulator PKI.
 *
 * configfs-tsm entry, once the parent says it was made (`populate`), following the ABI
 * (`Documentation/ABI/testing/configfs-tsm-report`):
 * - `provider`, `privlevel_floor` and `auxblob` (the certificate table) are ordinary files;
 * - `inblob` and (for `sev_guest`) `privlevel` are FIFOs this process drains
 *   (tsm-stand-in-fifo-test-support.ts): every write bumps `generation`, as the kernel bumps it
 *   on every write to `inblob` or an option attribute. Writes are told apart by their framing:
 *   REPORT_DATA is 64 bytes a write, a privilege level one line;
 * - `generation` and `outblob` are FIFOs answered on each read, after draining the written ones,
 *   so a read sees every write made before it. `outblob` is the report (SNP: fixed HOST_DATA and
 *   the VMPL last written to `privlevel`; TDX: fixed MRCONFIGID) over the last REPORT_DATA.
 * - Scenario knobs: `concurrentWriter` (when the agent reads `outblob`, a second process writes
 *   its own REPORT_DATA into `inblob` first: the report is over that, and generation rises by
 *   two), `otherReportData` (the report answers other REPORT_DATA), `reportVmpl` (the report
 *   claims another VMPL than was written), `outblobFormat` (answer in another provider's format),
 *   `emptyOutblob`, `noCerts`, `privlevelFloor`, `provider`.
 * - On `remove` it does the part of configfs's rmdir an ordinary directory cannot: it stops
 *   answering and deletes the attribute files. The parent then calls the real `rmdir`.
 *
 * Gramine (`gramine`): `attestation_type`, `my_target_info` (this enclave's TARGETINFO),
 * `target_info` and `user_report_data` are files; `report` is a FIFO answered with an SGX REPORT
 * (432 bytes, fixed CONFIGID) over `user_report_data` when `target_info` is `my_target_info` (an
 * empty answer otherwise); `quote` a FIFO answered with an SGX v3 quote over `user_report_data`,
 * with the fixed CONFIGID or, with `forgedConfigId`, another one (a quote the host made up), or,
 * with `foreignEnclave`, the fixed CONFIGID in another (debug) enclave's quote.
 *
 * @module
 */
import { execFile } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { concatBytes, hexToBytes } from '@initguard/core'
import { buildCertTable } from '@initguard/snp'
import {
  buildSgxQuote,
  buildSnpReport,
  buildTdxQuote,
  createSimulatorMaterial,
  defaultSgxEnclaveFields,
  encodeSgxReport,
  encodeTcbVersion,
  SIMULATOR_SNP_MEASUREMENT_HEX,
} from '@initguard/tee-simulator'
import type {
  GramineScenario,
  StandInReply,
  StandInRequest,
  TsmScenario,
} from './tsm-stand-in-test-support.ts'
import {
  STAND_IN_CONFIG_ID,
  STAND_IN_HOST_DATA,
  STAND_IN_MR_CONFIG_ID,
} from './tsm-stand-in-test-support.ts'
import {
  servedFifo,
  writtenFifo,
  type ServedFifo,
  type WrittenFifo,
} from './tsm-stand-in-fifo-test-support.ts'

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
  readonly written: WrittenFifo[]
  readonly served: ServedFifo[]
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

/** Another process writes 64 bytes of 0xEE into `inblob` (and is gone when this resolves). */
async function secondWriter(inblob: string): Promise<void> {
  const script = "require('node:fs').writeFileSync(process.argv[1], Buffer.alloc(64, 0xee))"
  await promisify(execFile)(process.execPath, ['-e', script, inblob])
}

async function populate(path: string, scenario: TsmScenario): Promise<void> {
  const at = (name: string) => join(path, name)
  const snp = scenario.provider === 'sev_guest'
  await writeFile(at('provider'), `${scenario.provider}\n`)
  if (snp) {
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
  const state = { generation: 0, inblob: new Uint8Array(64), vmpl: 0, secondWriter: false }
  const inblob = writtenFifo(at('inblob'))
  const privlevel = snp ? writtenFifo(at('privlevel')) : undefined
  const drain = () => {
    const data = inblob.drain()
    for (let offset = 0; offset < data.length; offset += 64) {
      state.inblob = data.slice(offset, offset + 64)
      state.generation += 1
    }
    const lines = new TextDecoder().decode(privlevel?.drain() ?? new Uint8Array(0))
    for (const line of lines.split('\n').filter((l) => l !== '')) {
      state.vmpl = Number(line)
      state.generation += 1
    }
  }
  const generation = servedFifo(at('generation'), () => {
    drain()
    return Promise.resolve(`${state.generation}\n`)
  })
  const outblob = servedFifo(at('outblob'), async () => {
    drain()
    if (scenario.concurrentWriter === true && !state.secondWriter) {
      state.secondWriter = true
      await secondWriter(at('inblob'))
      drain()
    }
    let reportData = state.inblob
    if (scenario.otherReportData === true)
      reportData = reportData.map((b, i) => (i === 0 ? b ^ 0xff : b))
    if (scenario.emptyOutblob === true) return new Uint8Array(0)
    const vmpl = scenario.reportVmpl ?? state.vmpl
    return report(scenario.outblobFormat ?? scenario.provider, reportData, vmpl)
  })
  entries.set(path, {
    written: privlevel === undefined ? [inblob] : [inblob, privlevel],
    served: [generation, outblob],
  })
}

async function remove(path: string): Promise<void> {
  const entry = entries.get(path)
  entries.delete(path)
  if (entry !== undefined) {
    await Promise.all(entry.served.map((served) => served.stop()))
    for (const written of entry.written) written.close()
  }
  for (const name of await readdir(path)) await unlink(join(path, name))
}

/** SGX ATTRIBUTES of a debug enclave: INIT, DEBUG, MODE64BIT; XFRM as the default's. */
const DEBUG_ENCLAVE_ATTRIBUTES = hexToBytes('0700000000000000e700000000000000')

/** An SGX REPORT (body, KEYID, MAC) as EREPORT makes it for the enclave itself. */
function localReport(reportData: Uint8Array): Uint8Array {
  const body = encodeSgxReport({
    ...defaultSgxEnclaveFields(),
    configId: STAND_IN_CONFIG_ID,
    reportData,
  })
  return concatBytes([body, new Uint8Array(32), randomBytes(16)])
}

async function serveGramine(dir: string, scenario: GramineScenario): Promise<void> {
  await mkdir(dir, { recursive: true })
  const at = (name: string) => join(dir, name)
  const targetInfo = randomBytes(512)
  await writeFile(at('attestation_type'), `${scenario.attestationType}\n`)
  await writeFile(at('my_target_info'), targetInfo)
  await writeFile(at('target_info'), new Uint8Array(512))
  await writeFile(at('user_report_data'), new Uint8Array(64))
  servedFifo(at('report'), async () => {
    const target = await readFile(at('target_info'))
    if (!target.equals(targetInfo)) return new Uint8Array(0)
    return localReport(new Uint8Array(await readFile(at('user_report_data'))))
  })
  const configId =
    scenario.forgedConfigId === true ? STAND_IN_CONFIG_ID.map((b) => b ^ 0x5a) : STAND_IN_CONFIG_ID
  servedFifo(at('quote'), async () => {
    const reportData = new Uint8Array(await readFile(at('user_report_data')))
    const foreign =
      scenario.foreignEnclave === true
        ? { mrEnclave: new Uint8Array(32).fill(0x66), attributes: DEBUG_ENCLAVE_ATTRIBUTES }
        : {}
    return buildSgxQuote({ configId, reportData, ...foreign }, signer)
  })
}

process.on('message', (message: StandInRequest) => {
  const run = async (): Promise<void> => {
    if (message.type === 'populate') await populate(message.path, message.scenario)
    else if (message.type === 'remove') await remove(message.path)
    else await serveGramine(message.dir, message.scenario)
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
    // Over JSON IPC as base64; the parent turns it back into bytes.
    amdCrl: Buffer.from(material.snp.crl).toString('base64'),
    intelRootPem: material.tdx.rootPem,
    collateralJson: material.tdx.collateralJson,
  },
})
