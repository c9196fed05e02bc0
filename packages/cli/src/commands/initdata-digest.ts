/**
 * `initguard initdata digest | qemu-args | verify | explain`: what a document binds to.
 *
 * @module
 */
import { UsageError, bytesToHex } from '@initguard/core'
import { bindingFor, checkBinding, explainBinding, qemuPropertyFor } from '@initguard/initdata'
import { JSON_OPTION, onePositional, type Command } from '../command.ts'
import { emit, reply } from '../output.ts'
import {
  ENCODING_OPTION,
  EXPECTED_VALUE,
  FROM_OPTION,
  TEE_OPTION,
  encodeValue,
  expectedValue,
  loadDocument,
  teeOption,
} from './initdata-input.ts'

export const digestCommand: Command = {
  name: 'digest',
  summary: 'Print the digest of a document, or the value a TEE field must hold for it.',
  usage: 'FILE',
  description: [
    'The digest is the algorithm the document names, over its exact bytes. With --tee it is',
    'fitted to the field (truncated or zero-padded on the right) or, for vtpm, turned into the',
    'PCR 8 value SHA-256(32 zero bytes || digest). FILE may be - for standard input.',
    '',
    'Example: initguard initdata digest initdata.toml --tee snp',
  ].join('\n'),
  options: { tee: TEE_OPTION, encoding: ENCODING_OPTION, from: FROM_OPTION, json: JSON_OPTION },
  async run(args, io) {
    const document = await loadDocument(onePositional(args, 'FILE', 'initdata digest'), args, io)
    const tee = teeOption(args, false)
    if (tee === undefined) {
      const value = encodeValue(document.digest, args)
      return reply(io, args, {
        json: { algorithm: document.algorithm, digest: bytesToHex(document.digest), value },
        text: value,
      })
    }
    const binding = bindingFor(tee, document.algorithm, document.digest)
    const value = encodeValue(binding.value, args)
    return reply(io, args, {
      json: {
        tee,
        field: binding.field.name,
        length: binding.field.length,
        algorithm: document.algorithm,
        digest: bytesToHex(document.digest),
        value,
      },
      text: value,
      warnings: binding.warnings,
    })
  },
}

export const qemuArgsCommand: Command = {
  name: 'qemu-args',
  summary: 'Print the QEMU object property that puts the digest into the TEE field.',
  usage: 'FILE',
  description: [
    'snp: sev-snp-guest host-data=<base64 of 32 B>; tdx: tdx-guest mrconfigid=<base64 of 48 B>;',
    'cca: rme-guest personalization-value=<base64 of 64 B>. This is what the Kata runtime passes.',
    '',
    'Example: qemu-system-x86_64 -object sev-snp-guest,id=sev0,...,$(initguard initdata qemu-args doc.toml --tee snp)',
  ].join('\n'),
  options: {
    // The shared choices, so that sgx, se and vtpm get ERR_QEMU_UNSUPPORTED_TEE with its hint.
    tee: {
      ...TEE_OPTION,
      help: 'the TEE: snp, tdx or cca (QEMU sets no init-time field for sgx, se or vtpm)',
    },
    from: FROM_OPTION,
    json: JSON_OPTION,
  },
  async run(args, io) {
    const document = await loadDocument(onePositional(args, 'FILE', 'initdata qemu-args'), args, io)
    const tee = teeOption(args, true)
    const binding = bindingFor(tee, document.algorithm, document.digest)
    const property = qemuPropertyFor(binding)
    if (property === undefined) {
      throw new UsageError(
        'ERR_QEMU_UNSUPPORTED_TEE',
        `QEMU has no property for ${binding.field.name}`,
        {
          hint: 'use --tee snp, tdx or cca; for vtpm the guest extends PCR 8 itself',
        },
      )
    }
    return reply(io, args, {
      json: {
        tee,
        object: property.object,
        property: property.property,
        value: property.value,
        argument: property.argument,
      },
      text: property.argument,
      warnings: binding.warnings,
    })
  },
}

const EXPECTED_OPTIONS = {
  tee: TEE_OPTION,
  expected: {
    type: 'string',
    value: EXPECTED_VALUE,
    valueName: 'VALUE',
    help: 'the field value the TEE reports or the verifier expects',
  },
  encoding: { ...ENCODING_OPTION, help: 'encoding of --expected: hex (default) or base64' },
  from: FROM_OPTION,
  json: JSON_OPTION,
} as const satisfies Command['options']

export const verifyCommand: Command = {
  name: 'verify',
  summary:
    'Check a document against an expected TEE field value: exit 0 on a match, 5 on a mismatch.',
  usage: 'FILE',
  description: 'Example: initguard initdata verify initdata.toml --tee tdx --expected 8a1f…',
  options: EXPECTED_OPTIONS,
  async run(args, io) {
    const document = await loadDocument(onePositional(args, 'FILE', 'initdata verify'), args, io)
    const tee = teeOption(args, true)
    const binding = checkBinding(document, tee, expectedValue(args))
    return reply(io, args, {
      json: {
        ok: true,
        tee,
        field: binding.field.name,
        algorithm: document.algorithm,
        value: bytesToHex(binding.value),
      },
      text: `ok: the document matches ${binding.field.name} ${bytesToHex(binding.value)}`,
      warnings: binding.warnings,
    })
  },
}

export const explainCommand: Command = {
  name: 'explain',
  summary: 'Explain why a document does not match an expected TEE field value.',
  usage: 'FILE',
  description: [
    'Tries the slips that cost users days: a final newline added or lost, CRLF line ends, a byte',
    'order mark, another algorithm, the raw digest where the fitted value belongs, truncation on',
    'the wrong side, a value fitted for another TEE, a vTPM digest that was never extended or',
    'was extended into PCR 8 more than once.',
    'Exit 0 when the document matches, 5 when it does not (with or without an explanation).',
  ].join('\n'),
  options: EXPECTED_OPTIONS,
  async run(args, io) {
    const document = await loadDocument(onePositional(args, 'FILE', 'initdata explain'), args, io)
    const tee = teeOption(args, true)
    const report = explainBinding(document, tee, expectedValue(args))
    const derivation =
      tee === 'vtpm'
        ? `PCR 8 after one extend from reset with the ${report.algorithm} of the document's exact bytes`
        : `${report.algorithm} of the document's exact bytes`
    const lines = [
      `field:    ${report.field}`,
      `expected: ${report.expected}`,
      `actual:   ${report.actual === '' ? '(none: the digest cannot bind on this TEE)' : report.actual}   (${derivation})`,
    ]
    if (report.matches) {
      lines.push('', 'The document matches.')
    } else if (report.findings.length === 0) {
      lines.push(
        '',
        ...(tee === 'vtpm'
          ? [
              'The document does not match, and no simple slip explains it: the content differs, or',
              'PCR 8 was also extended with another value, before or after the digest (it holds the',
              'expected value only after exactly one extend with this digest from reset; the TPM',
              'event log lists every extend).',
            ]
          : ['The document does not match, and no simple slip explains it: the content differs.']),
        'Compare the document with the one the expected value was computed from (the pod annotation,',
        '`initguard initdata decode`), byte for byte.',
      )
    } else {
      lines.push('', 'The document does not match. What explains it:')
      report.findings.forEach((finding, i) => {
        lines.push(`  ${i + 1}. ${finding.explanation}.`, `     fix: ${finding.fix}.`)
      })
    }
    emit(io, args.values['json'] === true, { json: { ...report }, text: lines.join('\n') })
    return report.matches ? 0 : 5
  },
}
