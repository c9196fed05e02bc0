/**
 * The files `evidence verify` takes beside the evidence (`--trust-root`, `--certs`, `--crl`,
 * `--intel-root`), checked for what they are before a parser reads them.
 *
 * Why: the TEE simulator's directory holds four such files side by side, and swapping two (the
 * roots and the CRL, say) used to fail deep in a DER or PEM parser, with a message that named
 * neither the option nor what the file was, and for the roots options a hint to give DER, which
 * they do not read. Now the refusal names the option, the path, what the file is and the option
 * that takes it.
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'
import { identifyFile, type FileKind, type IdentifiedFile } from './file-kind.ts'

/** The options of `evidence verify` that name a file of certificates or a CRL. */
export type EvidenceFileOption = '--trust-root' | '--certs' | '--crl' | '--intel-root'

interface Takes {
  /** What the option takes, for messages. */
  readonly what: string
  /** The kinds of file it takes (a file of no known kind is left to the parser). */
  readonly kinds: readonly FileKind[]
  /** Read as PEM text only: a file without a PEM certificate is refused here. */
  readonly pemOnly: boolean
}

const TAKES: Readonly<Record<EvidenceFileOption, Takes>> = {
  '--trust-root': {
    what: "a test PKI's AMD roots (ARK, and ASK or ASVK) as PEM, e.g. the TEE simulator's amd-roots.pem",
    kinds: ['amd-certificate', 'certificate'],
    pemOnly: true,
  },
  '--certs': {
    what: 'VCEK, VLEK, ASK or ARK certificates (DER or PEM)',
    kinds: ['amd-certificate', 'certificate'],
    pemOnly: false,
  },
  '--crl': {
    what: "AMD's CRL of the product (DER), e.g. the TEE simulator's amd-crl.der",
    kinds: ['amd-crl', 'crl'],
    pemOnly: false,
  },
  '--intel-root': {
    what: "a test PKI's Intel root certificate as PEM, e.g. the TEE simulator's intel-root.pem",
    kinds: ['intel-certificate', 'certificate'],
    pemOnly: true,
  },
}

const INTEL_COLLATERAL: ReadonlySet<FileKind> = new Set<FileKind>([
  'intel-crl',
  'dcap-collateral-json',
  'pcs-tcb-info',
  'pcs-qe-identity',
])

/** The option of `evidence verify` that takes a file of this kind, when one does. */
function optionFor(file: IdentifiedFile): string | undefined {
  const cn = file.commonName ?? ''
  if (file.kind === 'amd-crl') return '--crl'
  if (file.kind === 'amd-certificate')
    return cn === 'SEV-VCEK' || cn === 'SEV-VLEK'
      ? '--certs'
      : "--trust-root (a test PKI's roots; AMD's own are built in)"
  if (file.kind === 'intel-certificate')
    return cn === 'Intel SGX Root CA'
      ? "--intel-root (a test PKI's root; Intel's own is built in)"
      : cn === 'Intel SGX PCK Certificate'
        ? undefined
        : '--collateral'
  if (INTEL_COLLATERAL.has(file.kind)) return '--collateral'
  if (file.kind === 'initdata-document') return '--expect-initdata'
  return undefined
}

function shown(path: string): string {
  return path === '-' ? 'standard input' : path
}

/**
 * Refuse `bytes`, read from `path` for `option`, when they are a file of another kind than the
 * option takes, or (for the PEM-only roots options) hold no PEM certificate.
 *
 * @throws {@link MalformedInputError} `ERR_OPTION_WRONG_FILE` (exit 3), with `details.option`
 *   and, when the file is one of a known kind, `details.file_kind`.
 */
export function refuseWrongOptionFile(
  option: EvidenceFileOption,
  path: string,
  bytes: Uint8Array,
): void {
  const takes = TAKES[option]
  const identified = identifyFile(bytes)
  if (identified !== undefined && !takes.kinds.includes(identified.kind)) {
    const goes = optionFor(identified)
    throw new MalformedInputError(
      'ERR_OPTION_WRONG_FILE',
      `${option} ${shown(path)} is ${identified.what}, not what ${option} takes`,
      {
        details: { option, path, file_kind: identified.kind },
        hint: `${goes === undefined ? '' : `this file goes to ${goes}; `}${option} takes ${takes.what}`,
      },
    )
  }
  if (
    takes.pemOnly &&
    !Buffer.from(bytes).toString('latin1').includes('-----BEGIN CERTIFICATE-----')
  )
    throw new MalformedInputError(
      'ERR_OPTION_WRONG_FILE',
      `${option} ${shown(path)} holds no PEM certificate${identified === undefined ? '' : ` (it is ${identified.what} in DER)`}`,
      {
        details: {
          option,
          path,
          ...(identified === undefined ? {} : { file_kind: identified.kind }),
        },
        hint: `${option} takes ${takes.what}; a DER certificate converts with \`openssl x509 -inform der -in FILE -out FILE.pem\``,
      },
    )
}
