/**
 * `initguard kbs get-resource`: a lab smoke test of a KBS. A simulated guest (launched with the
 * given init-data) attests over RCAR 0.4.0 with the protocol client, and the secret it receives is
 * decrypted and written to standard output (or `--out`).
 *
 * @module
 */
import { UsageError } from '@initguard/core'
import { writeFileAtomic } from '@initguard/files'
import { KbsClient, type TeeKeyKind } from '@initguard/kbs-protocol'
import { loadSimulator, simulateSnpEvidence, simulateTdxEvidence } from '@initguard/tee-simulator'
import { JSON_OPTION, type Command, requiredParsed } from '../command.ts'
import { PATH_VALUE, URL_VALUE, choiceValue } from '../option-values.ts'
import { emit } from '../output.ts'
import { RESOURCE_PATH_VALUE } from './kbs-option-values.ts'
import { readDocumentFile } from './initdata-input.ts'
import { noArguments } from './kbs-keygen.ts'
import { SIM_DIR_OPTION } from './sim-init.ts'
import { readCertificateOption } from './certificate-option.ts'

const TEES = ['snp', 'tdx'] as const
const TEE = choiceValue(TEES)
const KEY_KINDS = ['P-256', 'P-384', 'P-521', 'RSA-3072'] as const
const KEY_KIND = choiceValue(KEY_KINDS)
const RESOURCE = RESOURCE_PATH_VALUE

export const kbsGetResourceCommand: Command = {
  name: 'get-resource',
  summary: 'Attest as a simulated guest and print a secret from the KBS (a lab smoke test).',
  usage:
    '--url URL (--ca FILE | --pin FILE) --sim-dir DIR --tee snp|tdx --initdata FILE --path REPO/TYPE/TAG',
  description: [
    'The simulated guest is launched with --initdata (its digest in HOST_DATA / MRCONFIGID), makes',
    'a TEE key, binds it and the KBS nonce into REPORT_DATA, sends the document as init-data, and',
    'decrypts the resource JWE. The KBS must trust the simulator (`kbs serve --trust-sim DIR`).',
    '--pin FILE accepts only that exact certificate (what aa.toml/cdh.toml pin); --ca FILE trusts',
    'a CA (or the self-signed certificate) and checks the host name.',
    '',
    'Example: initguard kbs get-resource --url https://127.0.0.1:8443 --pin kbs-data/tls/kbs-cert.pem \\',
    '           --sim-dir ./sim --tee snp --initdata initdata.toml --path default/app/password',
  ].join('\n'),
  options: {
    url: { type: 'string', value: URL_VALUE, valueName: 'URL', help: 'the KBS, https://HOST:PORT' },
    ca: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'trust this CA or self-signed certificate (PEM), with host name checks',
    },
    pin: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'accept only this exact server certificate (PEM)',
    },
    'sim-dir': SIM_DIR_OPTION,
    tee: { type: 'string', value: TEE, valueName: 'TEE', help: 'snp or tdx' },
    initdata: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'the init-data document the simulated guest was launched with (sent as init-data)',
    },
    path: { type: 'string', value: RESOURCE, valueName: 'REPO/TYPE/TAG', help: 'the resource' },
    'tee-key': {
      type: 'string',
      value: KEY_KIND,
      valueName: 'KIND',
      help: 'the TEE key: P-256 (default, as CoCo), P-384, P-521 or RSA-3072',
    },
    out: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'write the secret here (mode 0600) instead of standard output',
    },
    json: {
      ...JSON_OPTION,
      help: 'print one JSON object: the secret as value_base64, or with --out its path and size',
    },
  },
  async run(args, io) {
    noArguments(args.positionals, 'kbs get-resource')
    const command = 'kbs get-resource'
    const url = requiredParsed(args, 'url', URL_VALUE, command)
    const simDir = requiredParsed(args, 'sim-dir', PATH_VALUE, command)
    const tee = requiredParsed(args, 'tee', TEE, command)
    const initdataPath = requiredParsed(args, 'initdata', PATH_VALUE, command)
    const path = requiredParsed(args, 'path', RESOURCE, command)
    const ca = args.values['ca']
    const pin = args.values['pin']
    if (typeof ca === 'string' && typeof pin === 'string')
      throw new UsageError('ERR_USAGE', 'give --ca or --pin, not both', {
        hint: '--pin FILE (exact certificate) is what a guest uses',
      })
    const tls =
      typeof pin === 'string'
        ? { pinnedCertificatePem: await readCertificateOption('--pin', pin) }
        : typeof ca === 'string'
          ? { caPem: await readCertificateOption('--ca', ca) }
          : undefined
    const initdata = await readDocumentFile(initdataPath, io, { option: 'initdata' })
    const simulator = await loadSimulator(simDir)
    const client = new KbsClient({ url, ...(tls === undefined ? {} : { tls }) })
    const keyKind = args.values['tee-key']
    await client.attest({
      tee,
      evidence: (reportData) => {
        const request = { initdata, reportData }
        return Promise.resolve(
          tee === 'snp'
            ? simulateSnpEvidence(simulator.material.snp, request)
            : simulateTdxEvidence(simulator.material.tdx, request),
        )
      },
      initData: new TextDecoder('utf-8', { fatal: true }).decode(initdata.bytes),
      ...(typeof keyKind === 'string' ? { teeKeyKind: keyKind as TeeKeyKind } : {}),
    })
    const secret = await client.getResource(path)
    const out = args.values['out']
    const json = args.values['json'] === true
    if (typeof out === 'string') {
      await writeFileAtomic(out, secret, { what: 'secret', mode: 0o600 })
      if (json)
        emit(io, true, { json: { ok: true, path, output: out, size: secret.length }, text: '' })
      else io.stderr.write(`wrote ${secret.length} bytes of ${path} to ${out}\n`)
    } else if (json) {
      // The secret is what was asked for, as without --json; base64, as it may be any bytes.
      const value = Buffer.from(secret).toString('base64')
      emit(io, true, {
        json: { ok: true, path, size: secret.length, value_base64: value },
        text: '',
      })
    } else {
      io.stdout.write(secret)
    }
    return 0
  },
}
