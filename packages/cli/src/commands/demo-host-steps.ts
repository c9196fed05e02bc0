/**
 * The demo's host-side steps on the bundled examples: build the initdata document, what each
 * TEE's field must hold, the pod annotation and block device, and a simulated SEV-SNP launch
 * checked by a relying party (and a CRLF copy of the document refused, with why).
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bytesToHex, isInitguardError } from '@initguard/core'
import { writeFileAtomic } from '@initguard/files'
import {
  KATA_INITDATA_ANNOTATION,
  bindingFor,
  buildInitdataImage,
  decodeAnnotation,
  encodeAnnotation,
  parseInitdata,
  readInitdataImage,
  renderInitdata,
  type InitdataDocument,
} from '@initguard/initdata'
import { annotatePodTemplates } from '@initguard/initdata/kubernetes'
import { parseSnpReport, verifySnpEvidence, type SnpVerifyOptions } from '@initguard/snp'
import {
  buildSnpReport,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
} from '@initguard/tee-simulator'
import { EXIT_CODES } from '../exit-codes.ts'
import type { Narrative } from './demo-narrative.ts'

/** The bundled example inputs (aa.toml, cdh.toml, policy.rego, workload.yaml). */
export const EXAMPLES: string = fileURLToPath(new URL('../../examples/', import.meta.url))

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))
const short = (bytes: Uint8Array): string => `${bytesToHex(bytes).slice(0, 24)}…`

/** Step: build the document from the examples, its TEE fields, annotation and block device. */
export async function demoInitdataDocument(
  story: Narrative,
  out: string,
): Promise<InitdataDocument> {
  const read = async (name: string): Promise<string> => readFile(join(EXAMPLES, name), 'utf8')
  story.step('The initdata document: built on the host, bound to the launch, delivered')
  const bytes = renderInitdata({
    algorithm: 'sha384',
    data: {
      'aa.toml': await read('aa.toml'),
      'cdh.toml': await read('cdh.toml'),
      'policy.rego': await read('policy.rego'),
    },
  })
  const document = parseInitdata(bytes)
  await writeFileAtomic(join(out, 'initdata.toml'), bytes, { what: 'initdata document' })
  story.pass(
    `initdata.toml from aa.toml, cdh.toml, policy.rego: ${bytes.length} bytes, ${document.algorithm} ${short(document.digest)}`,
  )
  const snp = bindingFor('snp', document.algorithm, document.digest)
  const tdx = bindingFor('tdx', document.algorithm, document.digest)
  story.pass(
    `the launch fixes it: ${snp.field.name} ${short(snp.value)}, ${tdx.field.name} ${short(tdx.value)}`,
  )

  const annotation = encodeAnnotation(bytes)
  const annotated = annotatePodTemplates(await read('workload.yaml'), {
    key: KATA_INITDATA_ANNOTATION,
    value: annotation,
  })
  await writeFileAtomic(join(out, 'workload.yaml'), new TextEncoder().encode(annotated.text), {
    what: 'manifest',
  })
  const image = buildInitdataImage(bytes)
  await writeFileAtomic(join(out, 'initdata.img'), image, { what: 'initdata image' })
  story.check(
    annotated.placements.length > 0 &&
      sameBytes(decodeAnnotation(annotation), bytes) &&
      sameBytes(readInitdataImage(image), bytes),
    `delivered as the pod annotation ${KATA_INITDATA_ANNOTATION} (${annotated.placements.length} pod template${annotated.placements.length === 1 ? '' : 's'} in workload.yaml) and the block device initdata.img: both read back to the same bytes`,
  )
  return document
}

/** Step: a simulated SEV-SNP launch, verified; a CRLF copy of the document refused, with why. */
export async function demoSnpEvidence(
  story: Narrative,
  out: string,
  document: InitdataDocument,
): Promise<void> {
  story.step('Evidence: a relying party checks a simulated SEV-SNP launch against the document')
  const simulated = simulateSnpLaunch(bindingFor('snp', document.algorithm, document.digest).value)
  await writeFileAtomic(join(out, 'report.bin'), simulated.report, { what: 'SNP report' })
  await writeFileAtomic(join(out, 'vcek.pem'), new TextEncoder().encode(simulated.vcekPem), {
    what: 'VCEK',
  })
  await writeFileAtomic(join(out, 'test-roots.pem'), new TextEncoder().encode(simulated.rootsPem), {
    what: 'test roots',
  })
  const evidence = { report: parseSnpReport(simulated.report), certificates: [] }
  const verified = verifySnpEvidence(evidence, {
    ...simulated.options,
    policy: { initdata: document },
  })
  story.pass(
    `report.bin verifies (signed by the ${verified.signingKey.toUpperCase()} under a synthetic AMD PKI given explicitly) and its HOST_DATA binds initdata.toml`,
  )
  const crlf = new TextEncoder().encode(
    new TextDecoder().decode(document.bytes).replace(/\n/g, '\r\n'),
  )
  await writeFileAtomic(join(out, 'initdata-crlf.toml'), crlf, { what: 'initdata document' })
  // Its multi-line strings now hold CRLF, which Kata releases read differently (the agent before
  // 4.0 as LF, the rest as CRLF): the relying party refuses the copy as it reads it.
  try {
    parseInitdata(crlf)
    story.fail('a copy saved with Windows line ends was accepted')
  } catch (error) {
    if (!isInitguardError(error)) throw error
    story.pass(
      `a copy saved with Windows line ends is refused as it is read (${error.code}, exit ${EXIT_CODES[error.category]})`,
    )
    story.detail(`why: ${error.message}`)
    if (error.hint !== undefined) story.detail(`fix: ${error.hint}`)
  }
}

/** A report from a simulated Milan whose launch carried `hostData`, signed under a fresh test PKI. */
function simulateSnpLaunch(hostData: Uint8Array): {
  report: Uint8Array
  vcekPem: string
  rootsPem: string
  options: SnpVerifyOptions
} {
  const now = new Date(Math.floor(Date.now() / 1000) * 1000)
  const notBefore = new Date(now.getTime() - 86_400_000)
  const notAfter = new Date(now.getTime() + 30 * 86_400_000)
  const pki = createAmdTestPki({ product: 'Milan', notBefore, notAfter })
  const fields = defaultSnpReportFields('Milan')
  const vcek = pki.issueVcek({
    chipId: fields.chipId,
    tcb: defaultSnpTcb('Milan'),
    notBefore,
    notAfter,
  })
  const roots = {
    product: 'Milan' as const,
    ark: pki.ark.pem,
    ask: pki.ask.pem,
    asvk: '',
    fingerprints: { ark: '', ask: '', asvk: '' },
  }
  return {
    report: buildSnpReport({ product: 'Milan', hostData }, vcek.privateKey),
    vcekPem: vcek.pem,
    rootsPem: pki.vcekChainPem,
    options: { now, anchors: { roots: { Milan: roots } }, certificates: [vcek.der] },
  }
}
