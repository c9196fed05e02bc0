/**
 * The certificate files the KBS clients take (`kbs admin --ca`, `kbs get-resource --ca|--pin`),
 * read and checked when the option is read.
 *
 * Why: the HTTP client checks the PEM only when it is built, and says "the CA certificate holds
 * no PEM certificate", naming neither the option nor the file; the likely mistake is a file from
 * the same walkthrough (the admin public key, a private key), and the fix is the KBS's own
 * certificate, which the refusal now names.
 *
 * @module
 */
import { MalformedInputError, isInitguardError, pemCertificates } from '@initguard/core'
import { readInput } from '@initguard/files'

/** What a PEM file that is not a certificate is, by its label, for the message. */
function pemLabel(text: string): string | undefined {
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1]
  return label === undefined || label === 'CERTIFICATE' ? undefined : `a PEM ${label.toLowerCase()}`
}

/**
 * The PEM text of `file`, given as `option`, once it is known to hold parseable certificates.
 *
 * @throws {@link MalformedInputError} `ERR_TLS_CERTIFICATE_INVALID` naming the option and the
 *   file (`details.option`, `details.path`); the reader's `ERR_FILE_*` codes.
 */
export async function readCertificateOption(
  option: '--ca' | '--pin',
  file: string,
): Promise<string> {
  const text = new TextDecoder().decode(
    await readInput(file, { what: `${option} certificate`, maxSize: 1024 * 1024 }),
  )
  try {
    pemCertificates(text, 'file')
  } catch (cause) {
    if (!isInitguardError(cause)) throw cause
    const is = pemLabel(text)
    throw new MalformedInputError(
      cause.code,
      `${option} ${file} ${cause.message.replace(/^the file /, '')}${is === undefined ? '' : ` (it is ${is})`}`,
      {
        cause,
        details: { ...cause.details, option, path: file },
        hint: `give ${option} the KBS's TLS certificate as PEM (a KBS that generated its own has it at DATA-DIR/tls/kbs-cert.pem)`,
      },
    )
  }
  return text
}
