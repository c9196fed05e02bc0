/**
 * GPG public keyrings for `signedBy` requirements (containers-policy.json(5) `keyPath`, `keyPaths`,
 * `keyData`): what `gpg --export` writes (binary, one or several keys concatenated) or the same
 * ASCII-armored (`gpg --export --armor`, possibly several armor blocks one after another).
 *
 * Parsing is pure and timeless: whether a key is revoked or expired depends on the moment of
 * verification, so {@link verifySimpleSigning} decides that, given `now`.
 *
 * @module
 */
import { readKeys, type Key, type PublicKey } from 'openpgp'
import { MalformedInputError, UsageError } from '@initguard/core'

/**
 * A set of OpenPGP public keys that signatures may be verified against.
 *
 * The same key may appear more than once (from several `keyPaths`); verification then requires
 * every copy to be valid, so a revocation in any copy counts.
 */
export interface GpgKeyring {
  /** Uppercase hex fingerprints of the primary keys, in input order (duplicates kept). */
  readonly fingerprints: readonly string[]
  /** The parsed keys (openpgp objects), in the same order. Treat as opaque and read-only. */
  readonly keys: readonly PublicKey[]
}

/** Armor blocks; text outside them may only be whitespace. */
const ARMOR_BLOCK = /-----BEGIN PGP ([A-Z0-9 ,/]+)-----[\s\S]*?-----END PGP \1-----/g

function fail(
  code: `ERR_GPG_KEYRING_${string}`,
  field: string,
  message: string,
  hint: string,
  cause?: unknown,
): never {
  throw new MalformedInputError(code, `${field}: ${message}`, {
    details: { field },
    hint,
    ...(cause === undefined ? {} : { cause }),
  })
}

/**
 * Parse a GPG public keyring.
 *
 * @param bytes - binary keyring (`gpg --export KEY… > file`) or ASCII-armored public key block(s).
 * @param field - where the keyring came from (a policy path such as `keyPaths[1]` or a file name);
 *   named in errors as `details.field`.
 * @returns the keys, at least one.
 * @throws {@link MalformedInputError} `ERR_GPG_KEYRING_EMPTY` (no bytes or only whitespace),
 *   `ERR_GPG_KEYRING_MALFORMED` (not OpenPGP key data, or damaged), `ERR_GPG_KEYRING_NOT_PUBLIC_KEY`
 *   (an armored message or signature instead of a key), `ERR_GPG_KEYRING_SECRET_KEY` (secret key
 *   material: a policy must hold public keys only).
 * @example
 * ```ts
 * const keyring = await parseGpgKeyring(await readFile('/etc/pki/signer.gpg'), 'keyPath')
 * keyring.fingerprints // ['08CD26E446E2E95249B7A405E932F44B23E8DD43']
 * ```
 * @see containers-policy.json(5) `signedBy`; RFC 4880 §11.1 (transferable public keys), §6 (armor)
 */
export async function parseGpgKeyring(bytes: Uint8Array, field: string): Promise<GpgKeyring> {
  // Copy once so a caller changing the buffer later cannot change what was parsed.
  const copy = Uint8Array.from(bytes)
  const text = isProbablyArmor(copy)
    ? new TextDecoder('utf-8', { fatal: false }).decode(copy)
    : undefined
  if (text?.trim() === '') {
    fail(
      'ERR_GPG_KEYRING_EMPTY',
      field,
      'the keyring is empty',
      'export the signer key with `gpg --export KEY > file`',
    )
  }
  const keys: Key[] = []
  if (text === undefined) keys.push(...(await read(field, () => readKeys({ binaryKeys: copy }))))
  else {
    const blocks = [...text.matchAll(ARMOR_BLOCK)]
    if (text.replace(ARMOR_BLOCK, '').trim() !== '' || blocks.length === 0) {
      fail(
        'ERR_GPG_KEYRING_MALFORMED',
        field,
        'the text is not one or more complete ASCII-armored key blocks',
        'export the key again with `gpg --export --armor KEY`, or give the binary export',
      )
    }
    for (const block of blocks) {
      const type = String(block[1])
      if (type === 'PRIVATE KEY BLOCK') secret(field)
      if (type !== 'PUBLIC KEY BLOCK') {
        fail(
          'ERR_GPG_KEYRING_NOT_PUBLIC_KEY',
          field,
          `the armored block is a PGP ${type}, not a PGP PUBLIC KEY BLOCK`,
          'give the public key of the signer (`gpg --export --armor KEY`), not a signature or message',
        )
      }
      keys.push(...(await read(field, () => readKeys({ armoredKeys: block[0] }))))
    }
  }
  if (keys.some((k) => k.isPrivate())) secret(field)
  // No key is private (checked above): toPublic() returns each key itself, typed as public.
  return freeze(keys.map((k) => k.toPublic()))
}

function secret(field: string): never {
  fail(
    'ERR_GPG_KEYRING_SECRET_KEY',
    field,
    'the keyring holds secret key material',
    'give only the public key (`gpg --export KEY`, not --export-secret-keys); treat the leaked secret key as compromised',
  )
}

/** True when the bytes start (after whitespace) like ASCII armor; binary keys start with a packet tag. */
function isProbablyArmor(bytes: Uint8Array): boolean {
  const first = bytes.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)
  return first === undefined || first === 0x2d
}

async function read(field: string, parse: () => Promise<Key[]>): Promise<Key[]> {
  let keys: Key[]
  try {
    keys = await parse()
  } catch (e) {
    fail(
      'ERR_GPG_KEYRING_MALFORMED',
      field,
      'the data is not an OpenPGP public keyring',
      'give the output of `gpg --export KEY` (binary) or `gpg --export --armor KEY`',
      e,
    )
  }
  return keys
}

function freeze(keys: readonly PublicKey[]): GpgKeyring {
  return Object.freeze({
    fingerprints: Object.freeze(keys.map((k) => k.getFingerprint().toUpperCase())),
    keys: Object.freeze([...keys]),
  })
}

/**
 * Merge keyrings into one, in order (a `signedBy` requirement with several `keyPaths` accepts a
 * signature by any of their keys).
 *
 * @throws {@link UsageError} `ERR_GPG_KEYRING_NONE` when given no keyring at all.
 * @example
 * ```ts
 * const keyring = mergeGpgKeyrings([await parseGpgKeyring(a, 'keyPaths[0]'), await parseGpgKeyring(b, 'keyPaths[1]')])
 * ```
 */
export function mergeGpgKeyrings(keyrings: readonly GpgKeyring[]): GpgKeyring {
  if (keyrings.length === 0) {
    throw new UsageError('ERR_GPG_KEYRING_NONE', 'no keyring to merge', {
      hint: 'a signedBy requirement needs keyPath, keyPaths or keyData',
    })
  }
  return freeze(keyrings.flatMap((k) => k.keys))
}
