/**
 * `initguard sim launch`: launch a simulated guest, fixing its HOST_DATA (SEV-SNP) or MRCONFIGID
 * (TDX) to an initdata document's fitted digest, as a host does when it starts a confidential VM.
 *
 * @module
 */
import { TEE_FIELDS } from '@initguard/initdata'
import { checkGuestName, launchSimulatedGuest } from '@initguard/tee-simulator'
import { JSON_OPTION, type Command, requiredParsed } from '../command.ts'
import { PATH_VALUE } from '../option-values.ts'
import { reply } from '../output.ts'
import { readDocumentFile } from './initdata-input.ts'
import { GUEST_NAME_VALUE, SIM_TEE_VALUE, simDirOption, simGuestOptions } from './sim-init.ts'

/**
 * `initguard sim launch --sim-dir DIR --tee snp|tdx --initdata FILE --name GUEST`: fix a simulated
 * guest's HOST_DATA or MRCONFIGID to the document's fitted digest (`launchSimulatedGuest`). From
 * then on every report of that guest (`sim evidence --guest`, `agent … --tee sim`) carries it,
 * whatever document it is later given. An existing name is refused (exit 2) unless `--replace`.
 */
export const simLaunchCommand: Command = {
  name: 'launch',
  summary:
    "Launch a simulated guest: fix its HOST_DATA (SEV-SNP) or MRCONFIGID (TDX) to a document's digest.",
  usage: '--sim-dir DIR --tee snp|tdx --initdata FILE --name GUEST',
  description: [
    "The guest's init-time field is the document's digest (its own algorithm over its exact bytes)",
    'fitted to the field, as Trustee fits it. From then on every report of the guest carries that',
    'value, whatever document it is given later, as on hardware: `initguard agent … --tee sim',
    '--sim-dir DIR --sim-guest GUEST` takes its reports from this guest.',
    '',
    'The guest is recorded in DIR/guests/GUEST.json (0600). GUEST is 1 to 63 characters: a',
    'lower-case letter or digit, then letters, digits, ".", "_" or "-". A guest of that name is',
    'refused (exit 2) unless --replace is given. --debug and --migratable launch a guest whose',
    'reports say so (SEV-SNP policy DEBUG / MIGRATE_MA, TD attributes DEBUG / MIGRATABLE).',
    '',
    'Example: initguard sim launch --sim-dir ./sim --tee snp --initdata initdata.toml --name web',
  ].join('\n'),
  options: {
    ...simGuestOptions({
      tee: 'snp (an SEV-SNP guest) or tdx (a TD)',
      initdata: 'the initdata document (TOML) the guest is launched with; - for standard input',
    }),
    name: {
      type: 'string',
      value: GUEST_NAME_VALUE,
      valueName: 'GUEST',
      help: "the guest's name: [a-z0-9][a-z0-9._-]{0,62}",
    },
    debug: { type: 'boolean', help: 'launch a debuggable guest' },
    migratable: { type: 'boolean', help: 'launch a migratable guest' },
    replace: { type: 'boolean', help: 'replace a guest of the same name' },
    json: JSON_OPTION,
  },
  async run(args, io) {
    const simDir = simDirOption(args, 'sim launch')
    const tee = requiredParsed(args, 'tee', SIM_TEE_VALUE, 'sim launch')
    const initdataPath = requiredParsed(args, 'initdata', PATH_VALUE, 'sim launch')
    const name = checkGuestName(requiredParsed(args, 'name', GUEST_NAME_VALUE, 'sim launch'))
    const document = await readDocumentFile(initdataPath, io, { option: 'initdata' })
    const launched = await launchSimulatedGuest({
      simDir,
      name,
      tee,
      initdata: document.bytes,
      debug: args.values['debug'] === true,
      migratable: args.values['migratable'] === true,
      replace: args.values['replace'] === true,
    })
    const { record } = launched
    const field = TEE_FIELDS[tee]
    const flags = [record.debug ? 'debug' : '', record.migratable ? 'migratable' : '']
      .filter((f) => f !== '')
      .join(', ')
    return reply(io, args, {
      json: {
        ok: true,
        guest: record.name,
        tee,
        field: field.name,
        value: record.init_data_field,
        algorithm: record.algorithm,
        initdata_digest: record.initdata_digest,
        debug: record.debug,
        migratable: record.migratable,
        launched: record.launched,
        replaced: launched.replaced,
        record: launched.path,
      },
      text: [
        `${launched.replaced ? 'relaunched' : 'launched'} the simulated ${tee === 'snp' ? 'SEV-SNP' : 'TDX'} guest ${record.name} in ${simDir}${flags === '' ? '' : ` (${flags})`}`,
        `${field.name} ${record.init_data_field}`,
        `  = the ${record.algorithm} digest of ${initdataPath} fitted to ${field.length} bytes`,
      ].join('\n'),
      warnings: launched.warnings,
    })
  },
}
