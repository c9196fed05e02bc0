/**
 * `initguard demo`: the initdata walk-through on the bundled example files (what `npm start` runs).
 *
 * @module
 */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeFileAtomic } from '@initguard/files'
import { bytesToHex, isInitguardError } from '@initguard/core'
import {
  KATA_INITDATA_ANNOTATION,
  TEE_FIELDS,
  TEE_KINDS,
  bindingFor,
  buildInitdataImage,
  checkBinding,
  decodeAnnotation,
  encodeAnnotation,
  explainBinding,
  parseInitdata,
  qemuPropertyFor,
  readInitdataImage,
  renderInitdata,
} from '@initguard/initdata'
import { annotatePodTemplates } from '@initguard/initdata/kubernetes'
import { parseSnpReport, verifySnpEvidence, type SnpVerifyOptions } from '@initguard/snp'
import {
  buildSnpReport,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
} from '@initguard/tee-simulator'
import { stringOption, type Command } from '../command.ts'
import { PATH_VALUE } from '../option-values.ts'
import type { CliIo } from '../cli-io.ts'
import { demoImagePolicy } from './demo-image-policy.ts'
import { withTemporaryDirectory } from './demo-temporary-directory.ts'

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url))

export const demoCommand: Command = {
  name: 'demo',
  summary:
    'Walk through initdata on the bundled examples: build, digest, annotate, verify, explain, and the image policy it carries.',
  usage: '',
  description: [
    'Writes its files to --out DIR and keeps them there; without --out, to a new temporary',
    'directory that is removed when the demo ends, whether it succeeds, fails or is interrupted.',
  ].join('\n'),
  options: {
    out: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'DIR',
      help: 'where to write (and keep) the files the demo makes',
    },
  },
  async run(args, io) {
    const requested = stringOption(args, 'out')
    if (requested !== undefined) {
      await mkdir(requested, { recursive: true })
      return walkThrough(requested, requested, io)
    }
    return withTemporaryDirectory((out) => walkThrough(out, undefined, io))
  },
}

/**
 * The walk-through itself, writing to `out`. `kept` is the directory the files stay in after the
 * demo (`--out`), or undefined when `out` is temporary and will be removed.
 */
async function walkThrough(out: string, kept: string | undefined, io: CliIo): Promise<number> {
  const say = (text = ''): void => {
    io.stdout.write(text + '\n')
  }
  const step = (n: number, title: string): void => {
    say()
    say(`── ${n}. ${title}`)
  }
  const read = async (name: string): Promise<string> => readFile(join(EXAMPLES, name), 'utf8')

  say('Initguard walk-through: a Kubernetes user sends their own configuration into a confidential')
  say(`pod, bound to the TEE launch. Example inputs: ${EXAMPLES}`)
  say(`Output files: ${out}${kept === undefined ? ' (temporary: removed at the end)' : ''}`)

  step(1, 'Build the initdata document from aa.toml, cdh.toml and policy.rego')
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
  say(
    `initdata.toml: ${bytes.length} bytes, algorithm ${document.algorithm}, keys ${[...document.data.keys()].join(', ')}`,
  )
  say(`digest (sha384 over the exact bytes): ${bytesToHex(document.digest)}`)

  step(2, "What each TEE's init-time field must hold")
  for (const tee of TEE_KINDS) {
    try {
      const binding = bindingFor(tee, document.algorithm, document.digest)
      say(
        `${binding.field.name.padEnd(32)} ${bytesToHex(binding.value).slice(0, 64)}${binding.value.length > 32 ? '…' : ''}`,
      )
      for (const warning of binding.warnings) say(`  warning: ${warning}`)
    } catch (error) {
      if (!isInitguardError(error)) throw error
      say(`${TEE_FIELDS[tee].name.padEnd(32)} refused: ${error.message}`)
      if (error.hint !== undefined) say(`  hint: ${error.hint}`)
    }
  }
  for (const tee of ['snp', 'tdx'] as const) {
    const property = qemuPropertyFor(bindingFor(tee, document.algorithm, document.digest))
    if (property !== undefined) say(`QEMU ${property.object}: ${property.argument}`)
  }

  step(3, `Annotate the workload (${KATA_INITDATA_ANNOTATION})`)
  const annotation = encodeAnnotation(bytes)
  const manifest = await read('workload.yaml')
  const annotated = annotatePodTemplates(manifest, {
    key: KATA_INITDATA_ANNOTATION,
    value: annotation,
  })
  await writeFileAtomic(join(out, 'workload.yaml'), new TextEncoder().encode(annotated.text), {
    what: 'manifest',
  })
  for (const placement of annotated.placements) {
    say(
      `${placement.kind} ${placement.name ?? ''}: ${placement.action} at ${placement.path} (line ${placement.line})`,
    )
  }
  for (const skipped of annotated.skipped)
    say(`document ${skipped.document} (${skipped.kind ?? '?'}): left alone, ${skipped.reason}`)
  say(`annotation value: ${annotation.length} characters of base64(gzip(initdata.toml))`)
  const roundTrip = decodeAnnotation(annotation)
  say(
    `decoded back: ${Buffer.from(roundTrip).equals(Buffer.from(bytes)) ? 'the same bytes' : 'DIFFERENT BYTES'}`,
  )

  step(4, 'The block device the Kata runtime attaches')
  const image = buildInitdataImage(bytes)
  await writeFileAtomic(join(out, 'initdata.img'), image, { what: 'initdata image' })
  say(
    `initdata.img: ${image.length} bytes; reads back to ${Buffer.from(readInitdataImage(image)).equals(Buffer.from(bytes)) ? 'the same bytes' : 'DIFFERENT BYTES'}`,
  )

  step(5, 'The guest checks the document against MRCONFIGID (TDX)')
  const mrconfigid = bindingFor('tdx', document.algorithm, document.digest).value
  checkBinding(document, 'tdx', mrconfigid)
  say(`match: MRCONFIGID ${bytesToHex(mrconfigid)}`)

  step(6, 'A deliberate mismatch: someone saved the document with Windows line ends')
  const edited = new TextEncoder().encode(new TextDecoder().decode(bytes).replace(/\n/g, '\r\n'))
  await writeFileAtomic(join(out, 'initdata-crlf.toml'), edited, { what: 'initdata document' })
  const editedDocument = parseInitdata(edited)
  try {
    checkBinding(editedDocument, 'tdx', mrconfigid)
    say('unexpected: the edited document matched')
    return 1
  } catch (error) {
    if (!isInitguardError(error)) throw error
    say(`refused (exit code 5 from \`initguard initdata verify\`): ${error.message}`)
  }
  const report = explainBinding(editedDocument, 'tdx', mrconfigid)
  for (const finding of report.findings) say(`why: ${finding.explanation}.\nfix: ${finding.fix}.`)

  step(7, 'A simulated SEV-SNP launch: the relying party checks HOST_DATA against the document')
  say(
    '(a synthetic AMD PKI stands in for the hardware; it is trusted only because we pass it explicitly)',
  )
  const simulated = simulateSnpLaunch(bindingFor('snp', document.algorithm, document.digest).value)
  await writeFileAtomic(join(out, 'report.bin'), simulated.report, { what: 'SNP report' })
  await writeFileAtomic(join(out, 'vcek.pem'), new TextEncoder().encode(simulated.vcekPem), {
    what: 'VCEK',
  })
  await writeFileAtomic(join(out, 'test-roots.pem'), new TextEncoder().encode(simulated.rootsPem), {
    what: 'test roots',
  })
  const snpEvidence = { report: parseSnpReport(simulated.report), certificates: [] }
  const verified = verifySnpEvidence(snpEvidence, {
    ...simulated.options,
    policy: { initdata: document },
  })
  say(
    `verified: ${verified.product} report signed by the ${verified.signingKey.toUpperCase()}, HOST_DATA ${verified.claims.host_data} binds initdata.toml`,
  )
  try {
    verifySnpEvidence(snpEvidence, { ...simulated.options, policy: { initdata: editedDocument } })
    say('unexpected: the edited document was accepted')
    return 1
  } catch (error) {
    if (!isInitguardError(error)) throw error
    say(`the CRLF copy is refused (exit code 5 from \`initguard evidence verify\`): ${error.code}`)
  }

  step(8, 'Inside the guest: the image policy from the verified document decides what may run')
  if (!(await demoImagePolicy(say))) {
    say('unexpected: an image decision went the wrong way')
    return 1
  }

  say()
  const dir = kept ?? 'DIR'
  if (kept === undefined) {
    say('Keep the files with `npx initguard demo --out DIR` (or `npm start -- --out DIR`), then')
    say('try the same with the CLI:')
  } else {
    say('Try the same with the CLI:')
  }
  say(`  npx initguard initdata digest ${join(dir, 'initdata.toml')} --tee snp`)
  say(
    `  npx initguard initdata explain ${join(dir, 'initdata-crlf.toml')} --tee tdx --expected ${bytesToHex(mrconfigid)}`,
  )
  say(
    `  npx initguard evidence verify ${join(dir, 'report.bin')} --certs ${join(dir, 'vcek.pem')} --trust-root ${join(dir, 'test-roots.pem')} --expect-initdata ${join(dir, 'initdata.toml')}`,
  )
  return report.findings.length > 0 ? 0 : 1
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
