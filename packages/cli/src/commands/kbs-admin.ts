/**
 * `initguard kbs admin --url URL [--ca FILE] --admin-key FILE <object> <verb> …`: drive the KBS
 * admin API. Every option belongs to some verbs; given to another it is refused, never ignored.
 *
 * @module
 */
import { UsageError } from '@initguard/core'
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
  SNP_TCB_VALUE,
  URL_VALUE,
  choiceValue,
  freeValue,
  hexValue,
  integerValue,
} from '../option-values.ts'
import { RESOURCE_PATH_VALUE, WORKLOAD_NAME_VALUE } from './kbs-option-values.ts'
import { reply } from '../output.ts'
import { kbsAdminCall, kbsAdminTarget, type KbsAdminTarget } from './kbs-admin-request.ts'
import { workloadDefinitionJson } from './kbs-workload-json.ts'

const TEE = choiceValue(['snp', 'tdx', 'sgx'] as const)
const NAME = WORKLOAD_NAME_VALUE
const PATTERN = freeValue('a resource path pattern (repo/type/tag, * wildcards)', 'default/web/*')
const RESOURCE_PATH = RESOURCE_PATH_VALUE
const CEL = freeValue('a CEL expression over the claims', 'true')
const MEASUREMENT = hexValue(48, 'MEASUREMENT')
const MRTD = hexValue(48, 'MRTD')
const AFTER = integerValue(0, Number.MAX_SAFE_INTEGER, 'audit entry id')
const LIMIT = integerValue(1, 1000, 'entries')

const VERBS: Readonly<Record<string, readonly string[]>> = {
  'workload put': [
    'name',
    'tee',
    'initdata',
    'resource',
    'snp-measurement',
    'snp-min-tcb',
    'snp-min-launch-tcb',
    'snp-refuse-provisional-firmware',
    'tdx-mrtd',
    'tdx-rtmr',
    'allow-debug',
    'cel',
  ],
  'workload list': [],
  'workload get': ['name'],
  'workload delete': ['name'],
  'resource put': ['path', 'file'],
  'resource list': [],
  'resource delete': ['path'],
  audit: ['after', 'limit'],
  'rotate-signing-key': [],
}
const COMMON = ['url', 'ca', 'admin-key', 'json']

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

async function putWorkload(args: ParsedArgs, target: KbsAdminTarget): Promise<unknown> {
  const name = need(args, 'name', NAME)
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
    tdxMrtd: parsedList(args, 'tdx-mrtd', MRTD),
    tdxRtmr: parsedList(args, 'tdx-rtmr', RTMR_VALUE),
    allowDebug: optionGiven(args, 'allow-debug'),
    ...(cel === undefined ? {} : { cel }),
  })
  const bytes = new TextEncoder().encode(JSON.stringify(definition))
  return (
    await kbsAdminCall(target, 'PUT', `/kbs/v0/admin/workloads/${encodeURIComponent(name)}`, {
      bytes,
      type: 'application/json',
    })
  ).body
}

async function runVerb(verb: string, args: ParsedArgs, target: KbsAdminTarget): Promise<unknown> {
  const name = (): string => encodeURIComponent(need(args, 'name', NAME))
  const path = (): string =>
    need(args, 'path', RESOURCE_PATH).split('/').map(encodeURIComponent).join('/')
  switch (verb) {
    case 'workload put':
      return putWorkload(args, target)
    case 'workload list':
      return (await kbsAdminCall(target, 'GET', '/kbs/v0/admin/workloads')).body
    case 'workload get':
      return (await kbsAdminCall(target, 'GET', `/kbs/v0/admin/workloads/${name()}`)).body
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
      return (await kbsAdminCall(target, 'GET', '/kbs/v0/admin/resources')).body
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
      return (
        await kbsAdminCall(
          target,
          'GET',
          `/kbs/v0/admin/audit${query.size === 0 ? '' : `?${query.toString()}`}`,
        )
      ).body
    }
    default:
      return (await kbsAdminCall(target, 'POST', '/kbs/v0/admin/signing-keys/rotate')).body
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
    '--url URL [--ca FILE] --admin-key FILE <workload put|list|get|delete | resource put|list|delete | audit | rotate-signing-key>',
  description: [
    'Each call carries a 5-minute admin JWT signed with --admin-key (Ed25519 → EdDSA, P-256 →',
    'ES256; role admin, aud KBS). --ca FILE is the only certificate trusted for an https URL (the',
    "KBS's generated DATA-DIR/tls/kbs-cert.pem); without it the system's CAs are used.",
    '',
    'Examples:',
    '  initguard kbs admin --url https://127.0.0.1:8443 --ca kbs/tls/kbs-cert.pem --admin-key admin.key \\',
    '    workload put --name web --tee snp --tee tdx --initdata initdata.toml --resource default/web/*',
    '  initguard kbs admin … resource put --path default/web/key --file key.bin',
  ].join('\n'),
  options: {
    url: value(URL_VALUE, 'URL', 'the KBS, e.g. https://127.0.0.1:8443'),
    ca: value(PATH_VALUE, 'FILE', 'the only certificate (PEM) trusted for the KBS'),
    'admin-key': value(PATH_VALUE, 'FILE', 'the admin private key (PEM, Ed25519 or P-256)'),
    name: value(NAME, 'NAME', 'workload: its name'),
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
    'tdx-mrtd': value(MRTD, 'HEX', 'workload put: an accepted TDX MRTD (48 bytes)', true),
    'tdx-rtmr': value(RTMR_VALUE, 'N=HEX', 'workload put: an accepted TDX RTMR value', true),
    'allow-debug': {
      type: 'boolean',
      help: 'workload put: accept debuggable guests (refused by default)',
    },
    cel: value(CEL, 'EXPR', 'workload put: a CEL rule over the claims that must hold'),
    path: value(RESOURCE_PATH, 'PATH', 'resource put|delete: repo/type/tag'),
    file: value(PATH_VALUE, 'FILE', 'resource put: the secret (its bytes, as they are)'),
    after: value(AFTER, 'ID', 'audit: entries after this id'),
    limit: value(LIMIT, 'N', 'audit: at most N entries (default 100)'),
    json: JSON_OPTION,
  },
  async run(args, io) {
    const verb = verbOf(args)
    const url = need(args, 'url', URL_VALUE)
    const target = await kbsAdminTarget(
      url,
      need(args, 'admin-key', PATH_VALUE),
      parsedOption(args, 'ca', PATH_VALUE),
    )
    const result = await runVerb(verb, args, target)
    return reply(io, args, {
      json: { ok: true, action: verb, result },
      text: JSON.stringify(result, null, 2),
    })
  },
}
