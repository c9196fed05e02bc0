/**
 * `initguard kbs keygen`: an Ed25519 admin key pair for the KBS (private key 0600).
 *
 * @module
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import { UsageError } from '@initguard/core'
import { writeFileAtomic } from '@initguard/files'
import { JSON_OPTION, type Command, requiredParsed } from '../command.ts'
import { PATH_VALUE } from '../option-values.ts'
import { reply } from '../output.ts'

export const kbsKeygenCommand: Command = {
  name: 'keygen',
  summary: 'Make an Ed25519 admin key pair for the KBS (private key 0600).',
  usage: '--out-private FILE --out-public FILE',
  description: [
    'The public key goes to `initguard kbs serve --admin-public-key`; the private key to',
    '`initguard kbs admin --admin-key`, which signs a 5-minute admin JWT (EdDSA) per call.',
    '',
    'Example: initguard kbs keygen --out-private admin.key --out-public admin.pub',
  ].join('\n'),
  options: {
    'out-private': {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'where to write the private key (PKCS#8 PEM, mode 0600)',
    },
    'out-public': {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'where to write the public key (SPKI PEM)',
    },
    json: JSON_OPTION,
  },
  async run(args, io) {
    const privatePath = requiredParsed(args, 'out-private', PATH_VALUE, 'kbs keygen')
    const publicPath = requiredParsed(args, 'out-public', PATH_VALUE, 'kbs keygen')
    noArguments(args.positionals, 'kbs keygen')
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const spki = publicKey.export({ type: 'spki', format: 'der' })
    const encode = (text: string | Buffer): Uint8Array => new TextEncoder().encode(text.toString())
    await writeFileAtomic(
      privatePath,
      encode(privateKey.export({ type: 'pkcs8', format: 'pem' })),
      { what: 'admin private key', mode: 0o600 },
    )
    await writeFileAtomic(publicPath, encode(publicKey.export({ type: 'spki', format: 'pem' })), {
      what: 'admin public key',
    })
    const fingerprint = createHash('sha256').update(spki).digest('hex')
    return reply(io, args, {
      json: {
        ok: true,
        private_key: privatePath,
        public_key: publicPath,
        algorithm: 'EdDSA',
        fingerprint,
      },
      text: `wrote ${privatePath} (Ed25519 private key, 0600) and ${publicPath} (public key, SHA-256 ${fingerprint})`,
    })
  },
}

/** Refuse positional arguments for a command that takes only options. */
export function noArguments(positionals: readonly string[], command: string): void {
  if (positionals.length > 0) {
    throw new UsageError('ERR_USAGE', `initguard ${command} takes no arguments, only options`, {
      details: { arguments: positionals.length },
      hint: `see \`initguard ${command} --help\``,
    })
  }
}
