/**
 * The certificates of PEM text: every `-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----`
 * block, in order, each parsed (text around the blocks, such as OpenSSL's comments, is ignored).
 * The one reading of PEM certificates for TLS trust (the HTTP client) and for certificates pinned
 * in documents (the agent's KBS configuration).
 *
 * @module
 */
import { X509Certificate } from 'node:crypto'
import { MalformedInputError } from './errors.ts'

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/**
 * Every certificate in `pem`, each parsed, so a broken one is refused now (`what` names the
 * field in the message, e.g. `pinned certificate`).
 *
 * @throws {@link MalformedInputError} `ERR_TLS_CERTIFICATE_INVALID` for text with no certificate
 *   block, or a block that does not parse.
 */
export function pemCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? []
  const problem = (why: string, cause?: unknown): MalformedInputError =>
    new MalformedInputError('ERR_TLS_CERTIFICATE_INVALID', `the ${what} ${why}`, {
      details: { field: what },
      hint: 'give the certificate as PEM (-----BEGIN CERTIFICATE----- …)',
      ...(cause === undefined ? {} : { cause }),
    })
  if (blocks.length === 0) throw problem('holds no PEM certificate')
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block)
    } catch (cause) {
      throw problem(`has a certificate (#${i + 1}) that does not parse`, cause)
    }
  })
}
