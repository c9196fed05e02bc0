/**
 * `initguard agent start`: the guest agent. Checks the init-data first (the same check as
 * `agent check-initdata`); only after a match does it serve the guest API (CoCo's
 * api-server-rest paths) on loopback and, with `--socket`, a Unix socket (0600); with
 * `--listen none`, on the socket alone (every local user reaches a loopback port). A mismatch ends
 * it with exit 5 and nothing is written or served. The KBS named by the verified documents is not
 * needed to start: `/initdata/…` is served at once, KBS-backed paths answer 503 while it is
 * unreachable. Prints one line when ready; stops cleanly on SIGINT/SIGTERM (KBS calls in flight
 * aborted, the socket file removed), and exits 5 at once when the TEE's init-time field no
 * longer matches the one verified (`ERR_AGENT_INITDATA_FIELD_CHANGED`).
 *
 * @module
 */
import {
  ALLOW_UNBOUND_FLAG,
  NO_TCP_LISTENER,
  checkGuestApiListeners,
  establishInitdata,
  openAgentKbs,
  parseGuestApiAddress,
  serveGuestApi,
  type GuestApiAddress,
} from '@initguard/agent'
import type { Command } from '../command.ts'
import { JSON_OPTION, parsedOption } from '../command.ts'
import { PATH_VALUE, badValue, type OptionValue } from '../option-values.ts'
import { AGENT_GUEST_OPTIONS, agentInitdataSource, openAgentTee } from './agent-tee-options.ts'
import { noArguments } from './kbs-keygen.ts'
import { stopSignal } from './stop-signal.ts'

const NAME = 'agent start'

/** `HOST:PORT`, `[IPv6]:PORT`, or `none` (the socket alone). */
const LISTEN_VALUE: OptionValue<GuestApiAddress | typeof NO_TCP_LISTENER> = {
  kind: { name: 'free', what: 'HOST:PORT' },
  expected: 'HOST:PORT, [IPv6]:PORT or none',
  example: '127.0.0.1:8006',
  parse(text, option) {
    if (text === NO_TCP_LISTENER) return NO_TCP_LISTENER
    try {
      return parseGuestApiAddress(text)
    } catch {
      throw badValue(option, text, this.expected, 'e.g. 127.0.0.1:8006 (port 0: any free port)')
    }
  },
}

/**
 * `initguard agent start`: check the init-data, then serve the guest API until SIGINT/SIGTERM
 * (exit 0) or until the API refuses to go on (the init-time field changed: exit 5). A mismatch at
 * start exits 5 before anything is written or served. Warnings (a plain-http KBS, unbound
 * init-data, the simulator) go to standard error and, with `--json`, into the ready line.
 */
export const agentStartCommand: Command = {
  name: 'start',
  summary: 'Check init-data, then serve the guest API (token, evidence, KBS secrets, documents).',
  usage:
    '--initdata FILE --tee auto|snp|tdx|sgx|sim [--sim-dir DIR --sim-guest GUEST] [--listen HOST:PORT|none] [--socket PATH] [--runtime-dir DIR]',
  description: [
    'Checks the init-data as `agent check-initdata` does; a mismatch exits 5 and nothing is',
    'served. After a match the verified documents are written once to --runtime-dir (0600) and',
    'served from memory, and the guest API listens on --listen (default 127.0.0.1:8006, loopback',
    'only unless --allow-non-loopback) and --socket (mode 0600). Every local user reaches a',
    'loopback port; --listen none --socket PATH serves on the socket alone, for its owner only:',
    '  GET /aa/token?token_type=kbs, /aa/evidence?runtime_data=TEXT,',
    '  GET /cdh/resource/REPO/TYPE/TAG, /initdata, /initdata/KEY',
    'The KBS is the one the verified aa.toml / cdh.toml name, with their certificate pinned. One',
    'line "initguard agent ready: URL [socket PATH]" (with --listen none: "initguard agent ready:',
    'socket PATH") goes to standard output when serving.',
    '',
    'Example: initguard agent start --initdata initdata.toml --tee sim --sim-dir ./sim --sim-guest web \\',
    '           --socket ./agent.sock --runtime-dir ./run',
  ].join('\n'),
  options: {
    ...AGENT_GUEST_OPTIONS,
    listen: {
      type: 'string',
      value: LISTEN_VALUE,
      valueName: 'HOST:PORT',
      help: 'where the guest API listens (default 127.0.0.1:8006; port 0 picks one); none: only on --socket, so that only its owner reaches the API (every local user reaches a loopback port)',
    },
    socket: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'PATH',
      help: 'also serve on this Unix socket (created 0600, removed on stop)',
    },
    'runtime-dir': {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'DIR',
      help: 'write the verified documents here once (0600) after the check; a restart takes the directory it wrote for the same document',
    },
    'allow-non-loopback': {
      type: 'boolean',
      help: 'let --listen name a non-loopback address (whoever reaches it gets the secrets)',
    },
    'allow-unbound-initdata': {
      type: 'boolean',
      help: 'accept a TEE launched without init-data; every response then says so',
    },
    json: JSON_OPTION,
  },
  async run(args, io) {
    noArguments(args.positionals, NAME)
    const { from, path } = agentInitdataSource(args, NAME)
    const listen = parsedOption(args, 'listen', LISTEN_VALUE)
    const socketPath = parsedOption(args, 'socket', PATH_VALUE)
    const runtimeDir = parsedOption(args, 'runtime-dir', PATH_VALUE)
    const json = args.values['json'] === true
    const listeners = {
      ...(listen === undefined ? {} : { listen }),
      ...(socketPath === undefined ? {} : { socketPath }),
      allowNonLoopback: args.values['allow-non-loopback'] === true,
    }
    // Before the check: a refused --listen must not leave the runtime directory written, which
    // would then make the next start fail as not empty.
    checkGuestApiListeners(listeners)
    const tee = await openAgentTee(args, NAME)
    // The check comes first: a mismatch throws here (exit 5) and nothing is written or served.
    const { initdata, documents, files } = await establishInitdata({
      tee,
      from,
      ...(path === undefined ? {} : { path }),
      ...(runtimeDir === undefined ? {} : { runtimeDir }),
      allowUnbound: args.values['allow-unbound-initdata'] === true,
    })
    // Said at once (standard error; standard output keeps its one ready line): the moment the
    // agent's cold start is measured to (bench/agent.bench.ts).
    io.stderr.write(
      'unbound' in initdata
        ? 'initguard agent: init-data NOT verified (running unbound)\n'
        : `initguard agent: init-data verified (${initdata.tee}${initdata.simulated ? ', simulated' : ''}): the document matches the launch\n`,
    )
    const { access, warnings } = openAgentKbs({ initdata, tee })
    const endpoint = access.kind === 'session' ? access.session.endpoint : undefined
    const notes = [
      ...warnings,
      ...(access.kind === 'unavailable'
        ? [`KBS paths answer 503: ${access.reason.message} (${access.reason.code})`]
        : []),
      ...(endpoint?.url.startsWith('http:') === true
        ? [
            `the KBS ${endpoint.url} is plain http, as the verified init-data says: resources are encrypted to the TEE key with anonymous ECDH-ES, so anyone on the network path can forge the KBS's answers (secrets, policies); use https with a pinned certificate outside a lab`,
          ]
        : []),
      ...('unbound' in initdata
        ? [
            `UNBOUND: nothing vouches for the init-data (${ALLOW_UNBOUND_FLAG}); every response says so`,
          ]
        : []),
      ...(tee.simulated ? ['the TEE is the simulator: never use with real secrets'] : []),
    ]
    for (const note of notes) io.stderr.write(`warning: ${note}\n`)
    // Listening before the handlers would let a signal kill the process with the socket file left.
    const stop = stopSignal()
    const api = await serveGuestApi({
      state: { initdata, documents, tee, kbs: access },
      ...listeners,
    })
    const where = [
      ...(api.url === undefined ? [] : [api.url]),
      ...(api.socketPath === undefined ? [] : [`socket ${api.socketPath}`]),
    ]
    io.stdout.write(
      json
        ? `${JSON.stringify({ ready: true, url: api.url ?? null, socket: api.socketPath ?? null, verified: !('unbound' in initdata), kbs: endpoint?.url ?? null, runtimeDir: files === undefined ? null : runtimeDir, warnings: notes })}\n`
        : `initguard agent ready: ${where.join(' ')}\n`,
    )
    const refused = await Promise.race([stop.then(() => undefined), api.refused])
    await api.close()
    if (refused !== undefined) throw refused
    return 0
  },
}
