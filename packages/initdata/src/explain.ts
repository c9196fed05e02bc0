/**
 * Say *why* a document does not match an expected TEE field value, when a common slip explains it:
 * a final newline added or lost, CRLF line ends, the digest taken with another algorithm, the raw
 * digest given where the fitted field value belongs (or truncated on the wrong side), a byte order
 * mark, a vTPM PCR 8 value confused with the digest, or a PCR 8 the digest was extended into more
 * than once.
 *
 * Each candidate is a small change to the bytes, the algorithm or the fitting; a candidate that
 * reproduces the expected value is reported with what happened and how to fix it.
 *
 * @module
 */
import { bytesToHex, constantTimeEqual } from '@initguard/core'
import { INITDATA_ALGORITHMS, hashBytes, type InitdataAlgorithm } from './algorithms.ts'
import type { InitdataDocument } from './document.ts'
import {
  TEE_FIELDS,
  TEE_KINDS,
  bindingFor,
  expectedPcr8,
  fitDigest,
  type TeeKind,
} from './tee-binding.ts'

/** One reason that reproduces the expected value. */
export interface ExplainFinding {
  /** Stable identifier of the cause, e.g. `final-newline-missing+algorithm`. */
  readonly cause: string
  /** What the expected value actually is. */
  readonly explanation: string
  /** How to make the two agree. */
  readonly fix: string
}

/** The outcome of {@link explainBinding}. */
export interface ExplainReport {
  readonly tee: TeeKind
  readonly field: string
  readonly algorithm: InitdataAlgorithm
  readonly expected: string
  readonly actual: string
  readonly matches: boolean
  /** Causes that reproduce `expected`, most likely first; empty when nothing simple explains it. */
  readonly findings: readonly ExplainFinding[]
}

interface ByteVariant {
  readonly id: string
  readonly explanation: string
  readonly fix: string
  readonly bytes: Uint8Array
}

interface FitVariant {
  readonly id: string
  readonly explanation: string
  readonly fix: string
  readonly apply: (digest: Uint8Array) => Uint8Array | undefined
}

/**
 * The most extends of the same digest that a vTPM mismatch is checked against: whatever binds the
 * init-data again without a reboot leaves PCR 8 at the digest extended N times, which no verifier
 * accepts (Trustee replays exactly one extend from reset).
 */
const MOST_REPEATED_EXTENDS = 8

/** PCR 8 after `digest` was extended `times` times from reset (`times` ≥ 1, a 32-byte digest). */
function pcr8AfterExtends(digest: Uint8Array, times: number): Uint8Array {
  let pcr = expectedPcr8(digest)
  for (let i = 1; i < times; i++) pcr = hashBytes('sha256', Uint8Array.from([...pcr, ...digest]))
  return pcr
}

const LF = 0x0a
const CR = 0x0d
const BOM = [0xef, 0xbb, 0xbf]

function endsWithNewline(bytes: Uint8Array): boolean {
  return bytes.at(-1) === LF
}

function replaceLineEnds(bytes: Uint8Array, toCrlf: boolean): Uint8Array {
  const out: number[] = []
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0
    if (toCrlf) {
      if (b === LF && bytes[i - 1] !== CR) out.push(CR)
      out.push(b)
    } else if (!(b === CR && bytes[i + 1] === LF)) {
      out.push(b)
    }
  }
  return Uint8Array.from(out)
}

function hasCrlfLineEnds(bytes: Uint8Array): boolean {
  return bytes.some((b, i) => b === CR && bytes[i + 1] === LF)
}

function byteVariants(bytes: Uint8Array): ByteVariant[] {
  const hasCrlf = hasCrlfLineEnds(bytes)
  const base: ByteVariant[] = [{ id: 'as-is', explanation: '', fix: '', bytes }]
  if (hasCrlf) {
    base.push({
      id: 'crlf',
      explanation:
        'the expected value was computed with LF line ends, and this file has CRLF (Windows) line ends',
      fix: 'convert the file to LF line ends (dos2unix; in git, set core.autocrlf=false or a .gitattributes eol=lf rule)',
      bytes: replaceLineEnds(bytes, false),
    })
  } else if (bytes.includes(LF)) {
    base.push({
      id: 'lf',
      explanation:
        'the expected value was computed with CRLF (Windows) line ends, and this file has LF line ends',
      fix: 'use the same bytes on both sides: recompute the expected value from this file, or give the CRLF file',
      bytes: replaceLineEnds(bytes, true),
    })
  }
  if (BOM.every((b, i) => bytes[i] === b)) {
    base.push({
      id: 'bom',
      explanation:
        'the expected value was computed without the UTF-8 byte order mark this file starts with',
      fix: 'save the file as UTF-8 without a BOM',
      bytes: bytes.subarray(3),
    })
  }
  const variants: ByteVariant[] = []
  for (const v of base) {
    variants.push(v)
    const joined = (a: string, b: string): string => (a === '' ? b : `${a}; ${b}`)
    if (endsWithNewline(v.bytes)) {
      const cut = v.bytes.at(-2) === CR ? 2 : 1
      variants.push({
        id: v.id === 'as-is' ? 'final-newline-extra' : `${v.id}+final-newline-extra`,
        explanation: joined(
          v.explanation,
          'the expected value was computed without the final newline that this file ends with (e.g. `echo -n`, `$(cat file)`, a YAML `|-` block, or an editor that strips it)',
        ),
        fix: joined(
          v.fix,
          'compute the expected value from the exact file that the pod carries, or remove the final newline',
        ),
        bytes: v.bytes.subarray(0, v.bytes.length - cut),
      })
      let end = v.bytes.length
      while (end > 0 && [LF, CR, 0x20, 0x09].includes(v.bytes[end - 1] ?? 0)) end--
      if (end < v.bytes.length - cut) {
        variants.push({
          id: v.id === 'as-is' ? 'trailing-whitespace' : `${v.id}+trailing-whitespace`,
          explanation: joined(
            v.explanation,
            'the expected value was computed with all trailing blank lines and spaces removed',
          ),
          fix: joined(v.fix, 'compute the expected value from the exact file that the pod carries'),
          bytes: v.bytes.subarray(0, end),
        })
      }
    } else {
      variants.push({
        id: v.id === 'as-is' ? 'final-newline-missing' : `${v.id}+final-newline-missing`,
        explanation: joined(
          v.explanation,
          'the expected value was computed over the document with a final newline, and this file has none',
        ),
        fix: joined(
          v.fix,
          'add a newline at the end of the file, or recompute the expected value from this exact file',
        ),
        // The line end of this variant's text: a converted variant has the other kind than the file.
        bytes: Uint8Array.from([...v.bytes, ...(hasCrlfLineEnds(v.bytes) ? [CR, LF] : [LF])]),
      })
    }
  }
  return variants
}

function fitVariants(tee: TeeKind): FitVariant[] {
  const field = TEE_FIELDS[tee]
  if (tee === 'vtpm') {
    return [
      {
        id: 'fit',
        explanation: '',
        fix: '',
        apply: (d) => (d.length === 32 ? expectedPcr8(d) : undefined),
      },
      {
        id: 'vtpm-raw-digest',
        explanation:
          'the expected value is the document digest itself, but PCR 8 holds SHA-256(32 zero bytes ‖ digest) after the extend',
        fix: 'compare against the PCR 8 value (`initguard initdata digest FILE --tee vtpm`)',
        apply: (d) => d,
      },
      ...Array.from({ length: MOST_REPEATED_EXTENDS - 1 }, (_, i): FitVariant => {
        const times = i + 2
        return {
          id: 'vtpm-repeated-extend',
          explanation: `the expected value is PCR 8 after this digest was extended into it ${times} times, but the binding holds only after exactly one extend from reset: something extended it again (the attester binding the init-data a second time without a reboot, for example)`,
          fix: 'extend PCR 8 with the digest once per boot: find what extended it again (the TPM event log lists every extend), then reboot for a fresh PCR 8',
          apply: (d) => (d.length === 32 ? pcr8AfterExtends(d, times) : undefined),
        }
      }),
    ]
  }
  const variants: FitVariant[] = [
    { id: 'fit', explanation: '', fix: '', apply: (d) => fitDigest(d, field.length) },
    {
      id: 'unfitted',
      explanation: `the expected value is the whole digest, but ${field.name} holds it fitted to ${field.length} bytes (cut on the right or zero-padded on the right)`,
      fix: `compare against the ${field.length}-byte field value (\`initguard initdata digest FILE --tee ${tee}\`)`,
      apply: (d) => (d.length === field.length ? undefined : d),
    },
    {
      id: 'truncated-left',
      explanation: `the expected value keeps the last ${field.length} bytes of the digest, but the field keeps the first ${field.length}`,
      fix: 'truncate on the right: keep the first bytes of the digest',
      apply: (d) => (d.length > field.length ? d.subarray(d.length - field.length) : undefined),
    },
    {
      id: 'padded-left',
      explanation: `the expected value pads the digest with zeros on the left, but the field pads on the right`,
      fix: 'pad with zero bytes on the right',
      apply: (d) => {
        if (d.length >= field.length) return undefined
        const out = new Uint8Array(field.length)
        out.set(d, field.length - d.length)
        return out
      },
    },
  ]
  for (const other of TEE_KINDS) {
    const otherField = TEE_FIELDS[other]
    if (other === tee || other === 'vtpm' || otherField.length === field.length) continue
    variants.push({
      id: `fitted-for-${other}`,
      explanation: `the expected value is the digest fitted for ${otherField.name} (${otherField.length} bytes), not for ${field.name} (${field.length} bytes)`,
      fix: `use the value for --tee ${tee}`,
      apply: (d) => fitDigest(d, otherField.length),
    })
  }
  return variants
}

/**
 * Compare a document with an expected field value and explain a mismatch.
 *
 * @example
 * ```ts
 * const report = explainBinding(doc, 'snp', expectedHostData)
 * for (const f of report.findings) console.log(f.explanation, '→', f.fix)
 * ```
 */
export function explainBinding(
  document: InitdataDocument,
  tee: TeeKind,
  expected: Uint8Array,
): ExplainReport {
  const actualValue =
    tee === 'vtpm' && document.digest.length !== 32
      ? undefined
      : bindingFor(tee, document.algorithm, document.digest).value
  const base = {
    tee,
    field: TEE_FIELDS[tee].name,
    algorithm: document.algorithm,
    expected: bytesToHex(expected),
    actual: actualValue === undefined ? '' : bytesToHex(actualValue),
  }
  if (actualValue !== undefined && constantTimeEqual(actualValue, expected)) {
    return { ...base, matches: true, findings: [] }
  }
  const findings: ExplainFinding[] = []
  const algorithms = [
    document.algorithm,
    ...INITDATA_ALGORITHMS.filter((a) => a !== document.algorithm),
  ]
  for (const bytes of byteVariants(document.bytes)) {
    for (const algorithm of algorithms) {
      const digest = hashBytes(algorithm, bytes.bytes)
      for (const fit of fitVariants(tee)) {
        if (bytes.id === 'as-is' && algorithm === document.algorithm && fit.id === 'fit') continue
        const candidate = fit.apply(digest)
        if (candidate === undefined || !constantTimeEqual(candidate, expected)) continue
        const parts = [bytes, fit].filter((p) => p.id !== 'as-is' && p.id !== 'fit')
        const explanations = parts.map((p) => p.explanation)
        const fixes = parts.map((p) => p.fix)
        if (algorithm !== document.algorithm) {
          explanations.push(
            `the expected value was computed with ${algorithm}, but the document says algorithm = "${document.algorithm}" and every verifier hashes with the algorithm the document names`,
          )
          fixes.push(
            `compute the expected value with ${document.algorithm}, or change the document to algorithm = "${algorithm}"`,
          )
        }
        findings.push({
          cause: [
            ...parts.map((p) => p.id),
            ...(algorithm === document.algorithm ? [] : ['algorithm']),
          ].join('+'),
          explanation: explanations.join('; '),
          fix: fixes.join('; '),
        })
      }
    }
  }
  // Simplest explanations first: one slip is likelier than two.
  findings.sort((a, b) => a.cause.split('+').length - b.cause.split('+').length)
  if (actualValue === undefined) {
    findings.unshift({
      cause: 'vtpm-digest-length',
      explanation: `a vTPM binds by extending the SHA-256 PCR 8, which needs a 32-byte digest, and this document uses ${document.algorithm}`,
      fix: 'use algorithm = "sha256" for vTPM platforms',
    })
  }
  return { ...base, matches: false, findings }
}
