/**
 * Parsing of one policy requirement (`insecureAcceptAnything`, `reject`, `signedBy`,
 * `sigstoreSigned`) and of `signedIdentity`, with containers/image's rules for key sources.
 *
 * @module
 * @internal
 */
import type { MalformedInputError } from '@initguard/core'
import { isInitguardError } from '@initguard/core'
import {
  isValidDockerDomain,
  isValidDockerName,
  isNameOnly,
  parseDockerReference,
} from './docker-reference.ts'
import type { JsonNode } from './strict-json.ts'
import {
  type Code,
  fault,
  child,
  asObject,
  asArray,
  asString,
  nonEmptyString,
  base64Field,
  checkKeys,
  required,
} from './policy-fields.ts'
import {
  type SignedIdentity,
  type SignedByKeyType,
  type KeySource,
  type FulcioSource,
  type PkiSource,
  type CertificatesSource,
  type PolicyRequirement,
  type SignedByRequirement,
  type SigstoreSignedRequirement,
  SIGNED_BY_KEY_TYPES,
} from './policy.ts'

/** Which implementation's reading of policy.json to follow (see `PolicyCompatibility`). */
export type PolicyDialect = 'containers-image' | 'image-rs'

export function parseRequirementList(
  node: JsonNode,
  field: string,
  dialect: PolicyDialect,
): PolicyRequirement[] {
  const items = asArray(node, field)
  // image-rs reads an empty list as "no requirement", which accepts; containers/image refuses it.
  if (items.length === 0 && dialect === 'containers-image') {
    throw fault(
      'ERR_IMAGE_POLICY_EMPTY_REQUIREMENTS',
      `${field} is an empty requirement list`,
      field,
      'a requirement list must not be empty: use [{"type":"reject"}] or [{"type":"insecureAcceptAnything"}]',
    )
  }
  return items.map((item, i) => parseRequirement(item, `${field}[${i}]`, dialect))
}

function parseRequirement(
  node: JsonNode,
  field: string,
  dialect: PolicyDialect,
): PolicyRequirement {
  const members = asObject(node, field)
  const type = asString(required(members, 'type', field), `${field}.type`)
  switch (type) {
    case 'insecureAcceptAnything':
    case 'reject':
      checkKeys(members, ['type'], field)
      return { type }
    case 'signedBy':
      return parseSignedBy(members, field, dialect)
    case 'sigstoreSigned':
      return dialect === 'image-rs'
        ? parseImageRsSigstoreSigned(members, field)
        : parseSigstoreSigned(members, field)
    default:
      throw fault(
        'ERR_IMAGE_POLICY_REQUIREMENT_TYPE',
        `${field}.type is ${JSON.stringify(type.slice(0, 40))}, which is not a requirement type we support`,
        `${field}.type`,
        'use insecureAcceptAnything, reject, signedBy or sigstoreSigned',
      )
  }
}

function parseKeySource(
  members: ReadonlyMap<string, JsonNode>,
  names: readonly string[],
  field: string,
  code: Code,
): KeySource | undefined {
  const present = names.filter((name) => members.has(name))
  if (present.length > 1) {
    throw fault(
      code,
      `${field} has ${present.join(' and ')}; give exactly one of ${names.join(', ')}`,
      child(field, present[1] ?? ''),
      `keep one of ${present.join(', ')}`,
    )
  }
  const name = present[0]
  const node = name === undefined ? undefined : members.get(name)
  if (name === undefined || node === undefined) return undefined
  const f = child(field, name)
  const list = (what: string): readonly JsonNode[] => {
    const items = asArray(node, f)
    if (items.length === 0) {
      throw fault(
        code,
        `${f} is an empty list`,
        f,
        `list at least one ${what}, or use the singular key`,
      )
    }
    return items
  }
  if (name.endsWith('Paths')) {
    return {
      kind: 'keyPaths',
      paths: list('path').map((item, i) => nonEmptyString(item, `${f}[${i}]`)),
    }
  }
  if (name.endsWith('Path')) return { kind: 'keyPath', path: nonEmptyString(node, f) }
  if (name.endsWith('Datas')) {
    return { kind: 'keyDatas', data: list('key').map((item, i) => base64Field(item, `${f}[${i}]`)) }
  }
  return { kind: 'keyData', data: base64Field(node, f) }
}

/** `signedIdentity` of a requirement: the rule (default `matchRepoDigestOrExact`) and whether given. */
function identityFields(
  members: ReadonlyMap<string, JsonNode>,
  field: string,
): Pick<SignedByRequirement, 'signedIdentity' | 'signedIdentityGiven'> {
  const node = members.get('signedIdentity')
  return node === undefined
    ? { signedIdentity: { type: 'matchRepoDigestOrExact' }, signedIdentityGiven: false }
    : {
        signedIdentity: parseSignedIdentity(node, `${field}.signedIdentity`),
        signedIdentityGiven: true,
      }
}

function parseSignedBy(
  members: ReadonlyMap<string, JsonNode>,
  field: string,
  dialect: PolicyDialect,
): SignedByRequirement {
  // image-rs knows keyPath and keyData only.
  const keyNames =
    dialect === 'image-rs' ? ['keyPath', 'keyData'] : ['keyPath', 'keyPaths', 'keyData']
  checkKeys(members, ['type', 'keyType', ...keyNames, 'signedIdentity'], field)
  const keyType = asString(required(members, 'keyType', field), `${field}.keyType`)
  if (!SIGNED_BY_KEY_TYPES.includes(keyType)) {
    throw fault(
      'ERR_IMAGE_POLICY_KEY_TYPE',
      `${field}.keyType is ${JSON.stringify(keyType.slice(0, 40))}`,
      `${field}.keyType`,
      'write "keyType": "GPGKeys"',
    )
  }
  const keySource = parseKeySource(members, keyNames, field, 'ERR_IMAGE_POLICY_KEY_SOURCE')
  if (keySource === undefined || keySource.kind === 'keyDatas') {
    throw fault(
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${field} has none of keyPath, keyPaths and keyData`,
      field,
      'give exactly one of keyPath, keyPaths and keyData',
    )
  }
  return {
    type: 'signedBy',
    keyType: keyType as SignedByKeyType,
    keySource,
    ...identityFields(members, field),
  }
}

function parseSigstoreSigned(
  members: ReadonlyMap<string, JsonNode>,
  field: string,
): SigstoreSignedRequirement {
  const keyNames = ['keyPath', 'keyPaths', 'keyData', 'keyDatas']
  const rekorNames = [
    'rekorPublicKeyPath',
    'rekorPublicKeyPaths',
    'rekorPublicKeyData',
    'rekorPublicKeyDatas',
  ]
  checkKeys(members, ['type', ...keyNames, 'fulcio', 'pki', ...rekorNames, 'signedIdentity'], field)
  const sourceNames = [...keyNames, 'fulcio', 'pki'].join(', ')
  const keys = parseKeySource(members, keyNames, field, 'ERR_IMAGE_POLICY_KEY_SOURCE')
  const given = [
    ...(keys === undefined ? [] : [keys.kind]),
    ...['fulcio', 'pki'].filter((name) => members.has(name)),
  ]
  if (given.length > 1) {
    throw fault(
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${field} has both ${given[0] ?? ''} and ${given[1] ?? ''}`,
      child(field, given[1] ?? ''),
      `give exactly one of ${sourceNames}`,
    )
  }
  const fulcioNode = members.get('fulcio')
  const pkiNode = members.get('pki')
  let keySource: KeySource | FulcioSource | PkiSource
  if (keys !== undefined) keySource = keys
  else if (fulcioNode !== undefined) keySource = parseFulcio(fulcioNode, `${field}.fulcio`)
  else if (pkiNode !== undefined) keySource = parsePki(pkiNode, `${field}.pki`)
  else {
    throw fault(
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${field} has no key source`,
      field,
      `give exactly one of ${sourceNames}`,
    )
  }
  const rekor = parseKeySource(members, rekorNames, field, 'ERR_IMAGE_POLICY_REKOR')
  if (keySource.kind === 'fulcio' && rekor === undefined) {
    throw fault(
      'ERR_IMAGE_POLICY_REKOR',
      `${field} uses fulcio but has no Rekor public key`,
      field,
      'add rekorPublicKeyPath or rekorPublicKeyData: fulcio certificates are only trusted with a Rekor SET',
    )
  }
  if (keySource.kind === 'pki' && rekor !== undefined) {
    throw fault(
      'ERR_IMAGE_POLICY_REKOR',
      `${field} uses pki with a Rekor public key (${rekor.kind.replace('key', 'rekorPublicKey')})`,
      field,
      'remove the rekorPublicKey… keys: containers/image does not support Rekor with pki',
    )
  }
  return {
    type: 'sigstoreSigned',
    keySource,
    rekorPublicKeys: rekor,
    ...identityFields(members, field),
  }
}

/**
 * The one of two alternative members (`keyPath` or `keyData`, …) that `members` has, with its
 * value.
 *
 * @throws {@link MalformedInputError} `ERR_IMAGE_POLICY_KEY_SOURCE` with `hint` when both or
 *   neither are there.
 */
function oneOfTwo<Name extends string>(
  members: ReadonlyMap<string, JsonNode>,
  names: readonly [Name, Name],
  field: string,
  hint: string,
): { readonly name: Name; readonly node: JsonNode } {
  const given = names.flatMap((name) => {
    const node = members.get(name)
    return node === undefined ? [] : [{ name, node }]
  })
  const [only] = given
  if (given.length !== 1 || only === undefined) {
    throw fault(
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${field} must have exactly one of ${names[0]} and ${names[1]}`,
      field,
      hint,
    )
  }
  return only
}

/**
 * image-rs's `sigstoreSigned`: `keyPath` or `keyData` only, and `keyData` is the PEM text itself,
 * not base64 (containers/image base64-decodes it).
 */
function parseImageRsSigstoreSigned(
  members: ReadonlyMap<string, JsonNode>,
  field: string,
): SigstoreSignedRequirement {
  checkKeys(members, ['type', 'keyPath', 'keyData', 'signedIdentity'], field)
  const source = oneOfTwo(
    members,
    ['keyPath', 'keyData'],
    field,
    'give keyPath (a file or kbs:/// URI) or keyData (the PEM public key as text)',
  )
  const text = nonEmptyString(source.node, `${field}.${source.name}`)
  const keySource: KeySource =
    source.name === 'keyPath'
      ? { kind: 'keyPath', path: text }
      : { kind: 'keyData', data: new TextEncoder().encode(text) }
  return {
    type: 'sigstoreSigned',
    keySource,
    rekorPublicKeys: undefined,
    ...identityFields(members, field),
  }
}

function parseFulcio(node: JsonNode, field: string): FulcioSource {
  const members = asObject(node, field)
  checkKeys(members, ['caPath', 'caData', 'oidcIssuer', 'subjectEmail'], field)
  const source = oneOfTwo(members, ['caPath', 'caData'], field, 'give caPath or caData, not both')
  const ca: FulcioSource['ca'] =
    source.name === 'caData'
      ? { kind: 'caData', data: base64Field(source.node, `${field}.caData`) }
      : { kind: 'caPath', path: nonEmptyString(source.node, `${field}.caPath`) }
  return {
    kind: 'fulcio',
    ca,
    oidcIssuer: nonEmptyString(required(members, 'oidcIssuer', field), `${field}.oidcIssuer`),
    subjectEmail: nonEmptyString(required(members, 'subjectEmail', field), `${field}.subjectEmail`),
  }
}

/** One of `<name>Path` and `<name>Data` (both refused); undefined when neither is given. */
function certificatesSource(
  members: ReadonlyMap<string, JsonNode>,
  name: string,
  field: string,
): CertificatesSource | undefined {
  const path = members.get(`${name}Path`)
  const data = members.get(`${name}Data`)
  if (path !== undefined && data !== undefined) {
    throw fault(
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${field} has both ${name}Path and ${name}Data`,
      child(field, `${name}Data`),
      `give ${name}Path or ${name}Data, not both`,
    )
  }
  if (path !== undefined)
    return { kind: 'path', path: nonEmptyString(path, child(field, `${name}Path`)) }
  if (data !== undefined)
    return { kind: 'data', data: base64Field(data, child(field, `${name}Data`)) }
  return undefined
}

/** The `pki` key source, as containers/image 5.35's `newPRSigstoreSignedPKI` checks it. */
function parsePki(node: JsonNode, field: string): PkiSource {
  const members = asObject(node, field)
  checkKeys(
    members,
    [
      'caRootsPath',
      'caRootsData',
      'caIntermediatesPath',
      'caIntermediatesData',
      'subjectEmail',
      'subjectHostname',
    ],
    field,
  )
  const caRoots = certificatesSource(members, 'caRoots', field)
  if (caRoots === undefined) {
    throw fault(
      'ERR_IMAGE_POLICY_KEY_SOURCE',
      `${field} has neither caRootsPath nor caRootsData`,
      field,
      'give the trusted root certificates: caRootsPath (a PEM file) or caRootsData (its base64)',
    )
  }
  const subject = (name: string): string | undefined => {
    const value = members.get(name)
    return value === undefined ? undefined : nonEmptyString(value, child(field, name))
  }
  const subjectEmail = subject('subjectEmail')
  const subjectHostname = subject('subjectHostname')
  if (subjectEmail === undefined && subjectHostname === undefined) {
    throw fault(
      'ERR_IMAGE_POLICY_PKI_SUBJECT',
      `${field} has neither subjectEmail nor subjectHostname`,
      field,
      'name who must have signed: subjectEmail and/or subjectHostname (any certificate of the PKI would do otherwise)',
    )
  }
  return {
    kind: 'pki',
    caRoots,
    caIntermediates: certificatesSource(members, 'caIntermediates', field),
    subjectEmail,
    subjectHostname,
  }
}

function identityValueError(
  field: string,
  message: string,
  hint: string,
  cause?: unknown,
): MalformedInputError {
  return fault('ERR_IMAGE_POLICY_IDENTITY_VALUE', message, field, hint, cause)
}

function parseSignedIdentity(node: JsonNode, field: string): SignedIdentity {
  const members = asObject(node, field)
  const type = asString(required(members, 'type', field), `${field}.type`)
  switch (type) {
    case 'matchExact':
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
      checkKeys(members, ['type'], field)
      return { type }
    case 'exactReference': {
      checkKeys(members, ['type', 'dockerReference'], field)
      const f = `${field}.dockerReference`
      const dockerReference = asString(required(members, 'dockerReference', field), f)
      const ref = parseIdentityReference(dockerReference, f)
      if (isNameOnly(ref)) {
        throw identityValueError(
          f,
          `${f} has neither a tag nor a digest`,
          'add :tag or @sha256:<hex>',
        )
      }
      return { type, dockerReference }
    }
    case 'exactRepository': {
      checkKeys(members, ['type', 'dockerRepository'], field)
      const f = `${field}.dockerRepository`
      const dockerRepository = asString(required(members, 'dockerRepository', field), f)
      parseIdentityReference(dockerRepository, f)
      return { type, dockerRepository }
    }
    case 'remapIdentity': {
      checkKeys(members, ['type', 'prefix', 'signedPrefix'], field)
      const prefix = asString(required(members, 'prefix', field), `${field}.prefix`)
      const signedPrefix = asString(
        required(members, 'signedPrefix', field),
        `${field}.signedPrefix`,
      )
      validateRemapPrefix(prefix, `${field}.prefix`)
      validateRemapPrefix(signedPrefix, `${field}.signedPrefix`)
      return { type, prefix, signedPrefix }
    }
    default:
      throw fault(
        'ERR_IMAGE_POLICY_IDENTITY_TYPE',
        `${field}.type is ${JSON.stringify(type.slice(0, 40))}, which is not a signedIdentity type`,
        `${field}.type`,
        'use matchExact, matchRepoDigestOrExact, matchRepository, exactReference, exactRepository or remapIdentity',
      )
  }
}

function parseIdentityReference(
  text: string,
  field: string,
): ReturnType<typeof parseDockerReference> {
  try {
    return parseDockerReference(text, field)
  } catch (cause) {
    if (!isInitguardError(cause)) throw cause
    throw identityValueError(
      field,
      `${field} is not a valid Docker reference: ${cause.message}`,
      cause.hint ?? 'write host/path[:tag]',
      cause,
    )
  }
}

/** containers/image accepts a `host[:port]`, or a full name that starts with `host[:port]/`. */
function validateRemapPrefix(text: string, field: string): void {
  const slash = text.indexOf('/')
  const ok =
    isValidDockerDomain(text) ||
    (slash > 0 && isValidDockerName(text) && isValidDockerDomain(text.slice(0, slash)))
  if (!ok) {
    throw identityValueError(
      field,
      `${field} ${JSON.stringify(text.slice(0, 80))} is not a valid prefix`,
      'write host[:port] or host[:port]/namespace, e.g. "quay.io/org"',
    )
  }
}
