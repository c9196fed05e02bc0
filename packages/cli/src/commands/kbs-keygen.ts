/**
 * `initguard kbs keygen`: an Ed25519 admin key pair for the KBS (private key 0600). Both files are
 * written or neither (a directory that does not exist leaves an existing pair as it was); one path
 * for both is refused (the public key would replace the private one); an existing file at either
 * path is refused before anything is written unless `--replace` is given, and the write itself
 * never replaces one without it (a file made meanwhile is refused too). With `--replace`, a
 * replaced key is said in a warning: the admins of that key are refused by every KBS that trusts
 * only its public key.
 *
 * @module
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import { lstat, realpath } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { UsageError } from '@initguard/core'
import { writeFilesAtomic } from '@initguard/files'
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
    'An existing file is never replaced unless --replace is given: a KBS that trusts the old',
    'public key would lock out whoever lost its private key.',
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
    replace: { type: 'boolean', help: 'replace files that exist (the old key pair is lost)' },
    json: JSON_OPTION,
  },
  async run(args, io) {
    const privatePath = requiredParsed(args, 'out-private', PATH_VALUE, 'kbs keygen')
    const publicPath = requiredParsed(args, 'out-public', PATH_VALUE, 'kbs keygen')
    noArguments(args.positionals, 'kbs keygen')
    if ((await canonicalPath(privatePath)) === (await canonicalPath(publicPath)))
      throw new UsageError(
        'ERR_USAGE',
        `--out-private and --out-public name the same file (${privatePath}): the public key would replace the private key`,
        { hint: 'give two paths, e.g. --out-private admin.key --out-public admin.pub' },
      )
    const replace = args.values['replace'] === true
    if (!replace) await refuseExisting([privatePath, publicPath])
    const replaced = [
      ...((await exists(privatePath))
        ? [
            `replaced the existing admin private key ${privatePath}: its admins are refused by every KBS that trusts only its public key`,
          ]
        : []),
      ...((await exists(publicPath))
        ? [`replaced the existing admin public key ${publicPath}`]
        : []),
    ]
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const spki = publicKey.export({ type: 'spki', format: 'der' })
    const encode = (text: string | Buffer): Uint8Array => new TextEncoder().encode(text.toString())
    await writeFilesAtomic([
      {
        path: privatePath,
        bytes: encode(privateKey.export({ type: 'pkcs8', format: 'pem' })),
        options: { what: 'admin private key', mode: 0o600, replace },
      },
      {
        path: publicPath,
        bytes: encode(publicKey.export({ type: 'spki', format: 'pem' })),
        options: { what: 'admin public key', replace },
      },
    ])
    const fingerprint = createHash('sha256').update(spki).digest('hex')
    return reply(io, args, {
      warnings: replaced,
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

/** Whether anything (a file, a link, a directory) is at `path`. */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch {
    return false
  }
}

/**
 * Refuse before anything is written when one of `paths` exists (a file, a link, anything), so that
 * neither half of a key pair is written without the other.
 *
 * @throws {@link UsageError} `ERR_FILE_EXISTS` naming the path.
 */
async function refuseExisting(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    if (await exists(path))
      throw new UsageError('ERR_FILE_EXISTS', `${JSON.stringify(path)} already exists`, {
        details: { path },
        hint: 'give a path that does not exist, or --replace to replace the file (the key in it is lost)',
      })
  }
}

/**
 * `path` with its directory resolved through symbolic links (when it exists), so that two
 * spellings of one file compare equal: `a/./k`, `../dir/k`, a linked directory.
 */
async function canonicalPath(path: string): Promise<string> {
  const absolute = resolve(path)
  try {
    return join(await realpath(dirname(absolute)), basename(absolute))
  } catch {
    return absolute
  }
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
