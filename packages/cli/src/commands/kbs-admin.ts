/**
 * `initguard kbs admin --url URL [--ca FILE] --admin-key FILE [--admin-audience AUD] <object>
 * <verb> …`: drive the KBS
 * admin API. Every option belongs to some verbs; given to another it is refused, never ignored.
 *
 * @module
 */
import {
  MalformedInputError,
  UsageError,
  VerificationError,
  isInitguardError,
} from '@initguard/core'
import { readInput } from '@initguard/files'
import {
  JSON_OPTION,
  optionGiven,
  parsedList,
  parsedOption,
  type Command,
  type ParsedArgs,
  type StringOptionSpec,
  requiredParsed,
} from '../command.ts'
import {
  PATH_VALUE,
  RTMR_VALUE,
  TIME_VALUE,
  SNP_FIRMWARE_VALUE,
  SNP_GUEST_POLICY_VALUE,
  SNP_PLATFORM_INFO_VALUE,
  SNP_TCB_VALUE,
  choiceValue,
  freeValue,
  hexValue,
  integerValue,
} from '../option-values.ts'
import {
  ADMIN_AUDIENCE_VALUE,
  KBS_URL_VALUE,
  RESOURCE_PATH_VALUE,
  WORKLOAD_NAME_VALUE,
} from './kbs-option-values.ts'
import {
  jsonObjectAnswer,
  kbsAdminCall,
  kbsAdminTarget,
  type KbsAdminTarget,
} from './kbs-admin-request.ts'
import { terminalSafeJson } from './terminal-safe.ts'
import {
  UNUSABLE_STATUS,
  reportUnusableWorkload,
  unusableWorkloadAnswer,
  type UnusableWorkloadAnswer,
} from './kbs-admin-unusable.ts'
import { workloadDefinitionJson } from './kbs-workload-json.ts'
import { archiveChoice, auditPrune } from './kbs-audit-prune.ts'

const TEE = choiceValue(['snp', 'tdx', 'sgx'] as const)
const NAME = WORKLOAD_NAME_VALUE
const PATTERN = freeValue('a resource path pattern (repo/type/tag, * wildcards)', 'default/web/*')
const RESOURCE_PATH = RESOURCE_PATH_VALUE
const CEL = freeValue('a CEL expression over the claims', 'true')
const MEASUREMENT = hexValue(48, 'MEASUREMENT')
const MRTD = hexValue(48, 'MRTD')
const MRSERVICETD = hexValue(48, 'MRSERVICETD')
const AFTER = integerValue(0, Number.MAX_SAFE_INTEGER, 'audit entry id')
const LIMIT = integerValue(1, 1000, 'entries')

const VERBS: Readonly<Record<string, readonly string[]>> = {
  'workload put': [
    'name',
    'definition',
    'tee',
    'initdata',
    'resource',
    'snp-measurement',
    'snp-min-tcb',
    'snp-min-launch-tcb',
    'snp-refuse-provisional-firmware',
    'snp-min-firmware',
    'snp-guest-policy',
    'snp-platform-info',
    'tdx-mrtd',
    'tdx-rtmr',
    'tdx-any-kernel',
    'tdx-mrservicetd',
    'allow-debug',
    'refuse-simulated',
    'cel',
  ],
  'workload list': [],
  'workload get': ['name'],
  'workload delete': ['name'],
  'resource put': ['path', 'file'],
  'resource list': [],
  'resource delete': ['path'],
  audit: ['after', 'limit'],
  'audit prune': ['before', 'archive', 'no-archive'],
  'rotate-signing-key': ['revoke-previous'],
}
const COMMON = ['url', 'ca', 'admin-key', 'admin-audience', 'json']

function verbOf(args: ParsedArgs): string {
  const verb = args.positionals.join(' ')
  const allowed = VERBS[verb]
  if (allowed === undefined)
    throw new UsageError(
      'ERR_USAGE',
      verb === '' ? 'missing the admin action' : `unknown admin action ${JSON.stringify(verb)}`,
      {
        hint: `one of: ${Object.keys(VERBS).join(', ')}`,
      },
    )
  for (const name of Object.keys(args.options)) {
    if (optionGiven(args, name) && !COMMON.includes(name) && !allowed.includes(name))
      throw new UsageError(
        'ERR_OPTION_NOT_APPLICABLE',
        `--${name} does not apply to \`kbs admin ${verb}\``,
        {
          details: { option: `--${name}` },
          hint: `drop --${name}`,
        },
      )
  }
  return verb
}

const need = <T>(
  args: ParsedArgs,
  name: string,
  kind: Parameters<typeof requiredParsed<T>>[2],
): T => requiredParsed(args, name, kind, 'kbs admin')

/** The `workload put` options that build a definition; `--definition FILE` gives one instead. */
const BUILD_OPTIONS = VERBS['workload put']?.filter((o) => o !== 'name' && o !== 'definition') ?? []

/**
 * An https KBS whose certificate the system's CAs do not vouch for, reached without `--ca`: the
 * usual case is a KBS that generated its own certificate, which a newcomer has not been told to
 * give. The refusal keeps its code and message; its hint says how (the general TLS hint names no
 * option).
 */
function withCaHint(cause: unknown, url: string, ca: string | undefined): unknown {
  if (!isInitguardError(cause) || cause.code !== 'ERR_KBS_TLS' || ca !== undefined) return cause
  if (!url.startsWith('https:')) return cause
  return new VerificationError(cause.code, cause.message, {
    cause,
    details: cause.details,
    hint: "give the KBS's certificate with --ca FILE (a KBS that generated its own has it at DATA-DIR/tls/kbs-cert.pem); without --ca only the system's CAs are trusted",
  })
}

/**
 * `workload put --definition FILE`: a definition as JSON, as `workload get --json` shows one (its
 * `definition`, or the reviewed `unauthenticatedDefinition` of an unusable workload). Checked to
 * be a JSON object here; the KBS validates it as it does every definition.
 */
async function definitionFileBody(args: ParsedArgs, file: string): Promise<Uint8Array> {
  for (const option of BUILD_OPTIONS)
    if (optionGiven(args, option))
      throw new UsageError(
        'ERR_OPTION_NOT_APPLICABLE',
        `--${option} does not apply with --definition: the file is the whole definition`,
        { details: { option: `--${option}` }, hint: `drop --${option}, or --definition` },
      )
  const bytes = await readInput(file, { what: 'workload definition', maxSize: 16 * 1024 * 1024 })
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (cause) {
    throw new MalformedInputError(
      'ERR_KBS_WORKLOAD_DEFINITION_FILE',
      `--definition ${file} is not JSON (UTF-8)`,
      { cause, hint: 'give the definition as a JSON object' },
    )
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new MalformedInputError(
      'ERR_KBS_WORKLOAD_DEFINITION_FILE',
      `--definition ${file} is not a JSON object`,
      { hint: 'give the definition as a JSON object' },
    )
  return bytes
}

async function putWorkload(args: ParsedArgs, target: KbsAdminTarget): Promise<unknown> {
  const name = need(args, 'name', NAME)
  const file = parsedOption(args, 'definition', PATH_VALUE)
  if (file !== undefined)
    return objectCall(target, 'PUT', `/kbs/v0/admin/workloads/${encodeURIComponent(name)}`, {
      bytes: await definitionFileBody(args, file),
      type: 'application/json',
    })
  const tees = parsedList(args, 'tee', TEE)
  const files = parsedList(args, 'initdata', PATH_VALUE)
  const resources = parsedList(args, 'resource', PATTERN)
  // A workload without TEEs, documents or resources could never be matched or released to: say so here.
  for (const [list, option] of [
    [tees, 'tee'],
    [files, 'initdata'],
    [resources, 'resource'],
  ] as const)
    if (list.length === 0)
      throw new UsageError('ERR_USAGE', `missing --${option} (give it at least once)`, {
        hint: 'see `initguard kbs admin --help`',
      })
  const initdata = await Promise.all(
    files.map(async (file) => ({
      file,
      bytes: await readInput(file, { what: 'initdata document', maxSize: 16 * 1024 * 1024 }),
    })),
  )
  const minTcb = parsedOption(args, 'snp-min-tcb', SNP_TCB_VALUE)
  const minLaunchTcb = parsedOption(args, 'snp-min-launch-tcb', SNP_TCB_VALUE)
  const minFirmware = parsedOption(args, 'snp-min-firmware', SNP_FIRMWARE_VALUE)
  const guestPolicy = parsedOption(args, 'snp-guest-policy', SNP_GUEST_POLICY_VALUE)
  const platformInfo = parsedOption(args, 'snp-platform-info', SNP_PLATFORM_INFO_VALUE)
  const mrServiceTd = parsedOption(args, 'tdx-mrservicetd', MRSERVICETD)
  const cel = parsedOption(args, 'cel', CEL)
  const definition = workloadDefinitionJson({
    name,
    tees,
    initdata,
    resources,
    snpMeasurements: parsedList(args, 'snp-measurement', MEASUREMENT),
    ...(minTcb === undefined ? {} : { snpMinTcb: minTcb }),
    ...(minLaunchTcb === undefined ? {} : { snpMinLaunchTcb: minLaunchTcb }),
    snpRefuseProvisionalFirmware: optionGiven(args, 'snp-refuse-provisional-firmware'),
    ...(minFirmware === undefined ? {} : { snpMinFirmware: minFirmware }),
    ...(guestPolicy === undefined ? {} : { snpGuestPolicy: guestPolicy }),
    ...(platformInfo === undefined ? {} : { snpPlatformInfo: platformInfo }),
    tdxMrtd: parsedList(args, 'tdx-mrtd', MRTD),
    tdxRtmr: parsedList(args, 'tdx-rtmr', RTMR_VALUE),
    tdxAnyKernel: optionGiven(args, 'tdx-any-kernel'),
    ...(mrServiceTd === undefined ? {} : { tdxMrServiceTd: mrServiceTd }),
    allowDebug: optionGiven(args, 'allow-debug'),
    refuseSimulated: optionGiven(args, 'refuse-simulated'),
    ...(cel === undefined ? {} : { cel }),
  })
  const bytes = new TextEncoder().encode(JSON.stringify(definition))
  return objectCall(target, 'PUT', `/kbs/v0/admin/workloads/${encodeURIComponent(name)}`, {
    bytes,
    type: 'application/json',
  })
}

/** An admin call whose answer is a JSON object (checked): the object. */
async function objectCall(
  target: KbsAdminTarget,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: { readonly bytes: Uint8Array; readonly type: string },
): Promise<Record<string, unknown>> {
  return jsonObjectAnswer(method, path, await kbsAdminCall(target, method, path, body))
}

/**
 * `rotate-signing-key`: with `revokePrevious`, the body that asks the KBS to revoke every
 * previous key, and an answer that must say which it revoked (a KBS that ignored the body, one
 * from before the option, rotated with the grace: refused, exit 3, not reported as revoked).
 */
async function rotateSigningKey(
  target: KbsAdminTarget,
  revokePrevious: boolean,
): Promise<Record<string, unknown>> {
  const path = '/kbs/v0/admin/signing-keys/rotate'
  if (!revokePrevious) return objectCall(target, 'POST', path)
  const bytes = new TextEncoder().encode(JSON.stringify({ revokePrevious: true }))
  const answer = await objectCall(target, 'POST', path, { bytes, type: 'application/json' })
  const { revoked } = answer
  if (!Array.isArray(revoked) || !revoked.every((kid) => typeof kid === 'string'))
    throw new MalformedInputError(
      'ERR_KBS_ADMIN_ANSWER',
      'the KBS rotated the signing key but its answer names no revoked keys: the previous keys may still be trusted for their grace',
      {
        hint: 'upgrade the KBS to one that takes {"revokePrevious": true}, then rotate with --revoke-previous again',
      },
    )
  return answer
}

/** A get answered with a workload the KBS does not use: reported, never as a result. */
class Unusable {
  readonly answer: UnusableWorkloadAnswer
  constructor(answer: UnusableWorkloadAnswer) {
    this.answer = answer
  }
}

async function runVerb(verb: string, args: ParsedArgs, target: KbsAdminTarget): Promise<unknown> {
  const name = (): string => encodeURIComponent(need(args, 'name', NAME))
  const path = (): string =>
    need(args, 'path', RESOURCE_PATH).split('/').map(encodeURIComponent).join('/')
  switch (verb) {
    case 'workload put':
      return putWorkload(args, target)
    case 'workload list':
      return objectCall(target, 'GET', '/kbs/v0/admin/workloads')
    case 'workload get': {
      const get = `/kbs/v0/admin/workloads/${name()}`
      const answer = await kbsAdminCall(target, 'GET', get, undefined, [UNUSABLE_STATUS])
      return answer.status === UNUSABLE_STATUS
        ? new Unusable(unusableWorkloadAnswer(need(args, 'name', NAME), answer))
        : jsonObjectAnswer('GET', get, answer)
    }
    case 'workload delete':
      await kbsAdminCall(target, 'DELETE', `/kbs/v0/admin/workloads/${name()}`)
      return { deleted: need(args, 'name', NAME) }
    case 'resource put': {
      const file = need(args, 'file', PATH_VALUE)
      const bytes = await readInput(file, { what: 'resource', maxSize: 64 * 1024 * 1024 })
      await kbsAdminCall(target, 'POST', `/kbs/v0/resource/${path()}`, {
        bytes,
        type: 'application/octet-stream',
      })
      return { stored: need(args, 'path', RESOURCE_PATH), size: bytes.length }
    }
    case 'resource list':
      return objectCall(target, 'GET', '/kbs/v0/admin/resources')
    case 'resource delete':
      await kbsAdminCall(target, 'DELETE', `/kbs/v0/resource/${path()}`)
      return { deleted: need(args, 'path', RESOURCE_PATH) }
    case 'audit': {
      const after = parsedOption(args, 'after', AFTER)
      const limit = parsedOption(args, 'limit', LIMIT)
      const query = new URLSearchParams({
        ...(after === undefined ? {} : { after: String(after) }),
        ...(limit === undefined ? {} : { limit: String(limit) }),
      })
      return objectCall(
        target,
        'GET',
        `/kbs/v0/admin/audit${query.size === 0 ? '' : `?${query.toString()}`}`,
      )
    }
    case 'audit prune':
      return auditPrune(target, {
        before: need(args, 'before', TIME_VALUE),
        archive: archiveChoice(
          parsedOption(args, 'archive', PATH_VALUE),
          optionGiven(args, 'no-archive'),
        ),
      })
    default:
      return rotateSigningKey(target, optionGiven(args, 'revoke-previous'))
  }
}

const value = (
  kind: Parameters<typeof requiredParsed>[2],
  valueName: string,
  help: string,
  multiple = false,
): StringOptionSpec => ({
  type: 'string',
  value: kind,
  valueName,
  help,
  ...(multiple ? { multiple: true } : {}),
})

export const kbsAdminCommand: Command = {
  name: 'admin',
  summary: 'Manage a KBS: workloads, resources, the audit log, token-signing keys.',
  usage:
    '--url URL [--ca FILE] --admin-key FILE [--admin-audience AUD] <workload put|list|get|delete | resource put|list|delete | audit | audit prune | rotate-signing-key>',
  description: [
    'Each call carries a 5-minute admin JWT signed with --admin-key (Ed25519 → EdDSA, P-256 →',
    "ES256; role admin, aud the KBS's admin audience: --admin-audience AUD, as the KBS was started",
    "with, or Trustee's KBS without it). --ca FILE is the only certificate trusted for an https URL",
    "(the KBS's generated DATA-DIR/tls/kbs-cert.pem); without it the system's CAs are used.",
    '',
    'Examples:',
    '  initguard kbs admin --url https://127.0.0.1:8443 --ca kbs/tls/kbs-cert.pem --admin-key admin.key \\',
    '    workload put --name web --tee snp --tee tdx --initdata initdata.toml --resource default/web/*',
    '  initguard kbs admin … resource put --path default/web/key --file key.bin',
    '',
    'workload get of a workload whose stored row fails its integrity check (written before the',
    'rows carried a MAC, or changed behind the KBS) exits 5 (ERR_KBS_WORKLOAD_UNUSABLE) and shows',
    'the stored definition marked UNAUTHENTICATED: review it, then put the workload again.',
    '',
    'audit prune --before TIME --archive FILE writes every entry older than TIME (up to the first',
    'that is not, and never the newest) to FILE, flushes it, then has the KBS remove them; the KBS',
    'keeps every entry younger than its [audit] min-retention (default 7 days). Without --archive it',
    'refuses, unless --no-archive says the entries may go uncopied.',
    '',
    'rotate-signing-key makes a new token-signing key; the previous one still verifies the tokens',
    'it signed until they expire (token lifetime + leeway, 420 s by default). After a leak, add',
    '--revoke-previous: every previous key is deleted and its tokens refused at once on that',
    "replica, and on every other within 60 s (its key list's refresh); live tokens of honest guests",
    'are refused too, and their clients attest again.',
  ].join('\n'),
  options: {
    url: value(
      KBS_URL_VALUE,
      'URL',
      'the KBS, e.g. https://127.0.0.1:8443 (a path prefix is kept; no user info, query or fragment)',
    ),
    ca: value(PATH_VALUE, 'FILE', 'the only certificate (PEM) trusted for the KBS'),
    'admin-key': value(PATH_VALUE, 'FILE', 'the admin private key (PEM, Ed25519 or P-256)'),
    'admin-audience': value(
      ADMIN_AUDIENCE_VALUE,
      'AUD',
      "the KBS's admin audience (its --admin-audience), which the tokens name as aud; default KBS",
    ),
    name: value(NAME, 'NAME', 'workload: its name'),
    definition: value(
      PATH_VALUE,
      'FILE',
      'workload put: the whole definition as a JSON object (as workload get --json shows it), instead of the options below',
    ),
    tee: value(TEE, 'TEE', 'workload put: a TEE it may run on (snp, tdx, sgx)', true),
    initdata: value(
      PATH_VALUE,
      'FILE',
      'workload put: an accepted initdata document (its exact bytes)',
      true,
    ),
    resource: value(
      PATTERN,
      'PATTERN',
      'workload put: a resource path it may receive (* wildcards)',
      true,
    ),
    'snp-measurement': value(
      MEASUREMENT,
      'HEX',
      'workload put: an accepted SEV-SNP MEASUREMENT (48 bytes)',
      true,
    ),
    'snp-min-tcb': value(
      SNP_TCB_VALUE,
      'TCB',
      'workload put: the minimum SEV-SNP TCB, bl=N,tee=N,snp=N,ucode=N[,fmc=N]; fmc is needed for Turin guests',
    ),
    'snp-min-launch-tcb': value(
      SNP_TCB_VALUE,
      'TCB',
      'workload put: the minimum SEV-SNP LAUNCH_TCB (the firmware that launched the guest), same form as --snp-min-tcb',
    ),
    'snp-refuse-provisional-firmware': {
      type: 'boolean',
      help: 'workload put: refuse SEV-SNP guests whose host runs uncommitted firmware (current TCB or version differs from the committed one)',
    },
    'snp-min-firmware': value(
      SNP_FIRMWARE_VALUE,
      'MAJOR.MINOR.BUILD',
      'workload put: the minimum running SEV firmware (CURRENT_MAJOR.MINOR.BUILD), compared major, then minor, then build (1.56.0 is above 1.55.29); as evidence verify --min-firmware',
    ),
    'snp-guest-policy': value(
      SNP_GUEST_POLICY_VALUE,
      'KEY=0|1,…',
      'workload put: SEV-SNP GUEST_POLICY bits that must be set (1) or clear (0), e.g. smt=0 (snp.guestPolicy; as evidence verify --guest-policy)',
    ),
    'snp-platform-info': value(
      SNP_PLATFORM_INFO_VALUE,
      'KEY=0|1,…',
      "workload put: SEV-SNP PLATFORM_INFO bits (the host's state) that must be set (1) or clear (0), e.g. tsmeEnabled=1 (snp.platformInfo; as evidence verify --platform-info)",
    ),
    'tdx-mrtd': value(MRTD, 'HEX', 'workload put: an accepted TDX MRTD (48 bytes)', true),
    'tdx-rtmr': value(
      RTMR_VALUE,
      'N=HEX',
      'workload put: an accepted TDX RTMR value; RTMR1 (the kernel) and RTMR2 (its command line and initrd) are required unless --tdx-any-kernel',
      true,
    ),
    'tdx-any-kernel': {
      type: 'boolean',
      help: 'workload put: accept any TDX kernel, command line and initrd (tdx.anyKernel; no --tdx-rtmr 1 or 2): MRTD covers only the TD firmware, so a kernel the host chooses gets the secrets',
    },
    'tdx-mrservicetd': value(
      MRSERVICETD,
      'HEX',
      'workload put: the TDX 1.5 MRSERVICETD the TD must have, exactly (48 bytes; tdx.mrServiceTd); without it, all zero: no service TD bound (as evidence verify --expect-mrservicetd)',
    ),
    'allow-debug': {
      type: 'boolean',
      help: 'workload put: accept debuggable guests (refused by default)',
    },
    'refuse-simulated': {
      type: 'boolean',
      help: 'workload put: real hardware only: refuse TEE-simulator evidence even on a KBS started with --trust-sim',
    },
    cel: value(CEL, 'EXPR', 'workload put: a CEL rule over the claims that must hold'),
    path: value(RESOURCE_PATH, 'PATH', 'resource put|delete: repo/type/tag'),
    file: value(PATH_VALUE, 'FILE', 'resource put: the secret (its bytes, as they are)'),
    after: value(
      AFTER,
      'ID',
      'audit: entries after this one, in commit order (the last id a listing gave; 0: from the start)',
    ),
    limit: value(LIMIT, 'N', 'audit: at most N entries (default 100)'),
    before: value(
      TIME_VALUE,
      'TIME',
      'audit prune: prune the entries older than this (ISO 8601 with its zone, or a date, UTC), up to the first that is not',
    ),
    archive: value(
      PATH_VALUE,
      'FILE',
      'audit prune: write the entries there first, as JSON lines (a new file, 0600, flushed to disk)',
    ),
    'no-archive': {
      type: 'boolean',
      help: 'audit prune: prune without writing the entries anywhere (they are gone): only for a log already copied elsewhere',
    },
    'revoke-previous': {
      type: 'boolean',
      help: 'rotate-signing-key: after a leak: revoke every previous key with no grace (its tokens are refused at once; honest guests attest again)',
    },
    json: JSON_OPTION,
  },
  async run(args, io) {
    const verb = verbOf(args)
    const url = need(args, 'url', KBS_URL_VALUE)
    const json = args.values['json'] === true
    const target = await kbsAdminTarget(
      url,
      need(args, 'admin-key', PATH_VALUE),
      parsedOption(args, 'ca', PATH_VALUE),
      parsedOption(args, 'admin-audience', ADMIN_AUDIENCE_VALUE),
    )
    // Said before anything is sent, so also when the call then fails (in JSON: with the result).
    if (!json) for (const warning of target.warnings) io.stderr.write(`warning: ${warning}\n`)
    const result = await runVerb(verb, args, target).catch((cause: unknown) => {
      throw withCaHint(cause, url, parsedOption(args, 'ca', PATH_VALUE))
    })
    if (result instanceof Unusable) return reportUnusableWorkload(io, json, verb, result.answer)
    // What the KBS answered may hold what a guest sent (audit details): terminal-safe, the same
    // JSON value.
    io.stdout.write(
      terminalSafeJson(
        json ? { ok: true, action: verb, result, warnings: target.warnings } : result,
      ) + '\n',
    )
    return 0
  },
}
