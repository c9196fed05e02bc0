/**
 * `initguard agent pull-image`: an image pull inside the guest, as CoCo's image-rs does it, but
 * only under the policy of the verified `cdh.toml`. The init-data check comes first (exit 5 on a
 * mismatch, nothing fetched); then the policy, its sigstore config and its `kbs:///…` key files
 * are loaded through the attested KBS session the verified documents name; then the decision and
 * the pull, exactly as `initguard image pull` (exit 5 when refused, DEST untouched). No option
 * chooses the policy, its dialect, its lookaside stores or the time it is judged at: the host
 * could otherwise replace what the hardware vouched for.
 *
 * @module
 */
import {
  establishInitdata,
  kbsResourceResolver,
  loadGuestImagePolicy,
  openAgentKbs,
} from '@initguard/agent'
import { JSON_OPTION, type Command } from '../command.ts'
import {
  AGENT_INITDATA_OPTIONS,
  AGENT_TEE_OPTIONS,
  agentInitdataSource,
  openAgentTee,
} from './agent-tee-options.ts'
import { CONCURRENCY_OPTION, REGISTRY_ACCESS_OPTIONS, pullArguments } from './image-pull-options.ts'

const NAME = 'agent pull-image'

export const agentPullImageCommand: Command = {
  name: 'pull-image',
  summary:
    'Check init-data, then pull an image under the verified cdh.toml policy (exit 5 refused).',
  usage:
    '--initdata FILE [--from annotation|image] --tee auto|snp|tdx|sgx|sim [--sim-dir DIR --sim-guest GUEST] REF DEST',
  description: [
    'Checks the init-data as `agent check-initdata` does; a mismatch exits 5 before anything is',
    "fetched. The image policy is the verified cdh.toml's [image] image_security_policy_uri or",
    'image_security_policy (no policy: refused, never allow-all), read as image-rs reads it, with',
    'its sigstore_config; kbs:///REPO/TYPE/TAG URIs for the policy, the sigstore config and the',
    "policy's key files are fetched through the attested session with the KBS the verified",
    'aa.toml / cdh.toml name (certificate pinned). Then the decision and the pull as `image pull`:',
    'a refused image exits 5 and DEST is untouched; an unreachable KBS or registry exits 6.',
    'There is no --policy, --registries-d, --image-rs or --at: only the verified document decides.',
    '',
    'Example: initguard agent pull-image --initdata initdata.toml --tee sim --sim-dir ./sim \\',
    '           --sim-guest web quay.io/org/app:v1 ./rootfs',
  ].join('\n'),
  options: {
    ...AGENT_INITDATA_OPTIONS,
    ...AGENT_TEE_OPTIONS,
    ...REGISTRY_ACCESS_OPTIONS,
    concurrency: CONCURRENCY_OPTION,
    json: JSON_OPTION,
  },
  async run(args, io) {
    const pull = pullArguments(args, NAME)
    const { from, path } = agentInitdataSource(args, NAME)
    const tee = await openAgentTee(args, NAME)
    // The check comes first: a mismatch throws here (exit 5), before the KBS or a registry.
    const { initdata } = await establishInitdata({
      tee,
      from,
      ...(path === undefined ? {} : { path }),
    })
    const opened = openAgentKbs({ initdata, tee })
    const guest = await loadGuestImagePolicy({
      initdata,
      resolve: kbsResourceResolver(opened.access),
    })
    // Loaded only now: the agent command group stays light for `agent start`'s cold start.
    const [{ parseRegistriesD }, { registryAccessOptions }, { runImagePull }] = await Promise.all([
      import('@initguard/oci'),
      import('./image-input.ts'),
      import('./image-pull-run.ts'),
    ])
    const kbs = opened.access.kind === 'session' ? opened.access.session.endpoint.url : null
    return runImagePull(
      {
        ...pull,
        policySource: guest.source,
        warnings: [
          ...opened.warnings,
          ...guest.warnings,
          ...(tee.simulated ? ['the TEE is the simulator: never use with real secrets'] : []),
        ],
        check: {
          policy: guest.policy,
          // The guest sees no host lookaside store: only what the verified document names.
          registriesD:
            guest.sigstoreConfig === undefined
              ? { docker: new Map() }
              : parseRegistriesD([guest.sigstoreConfig]),
          readKeyFile: guest.readKeyFile,
          ...(await registryAccessOptions(args)),
        },
        extraJson: { initdata: { verified: true, tee: tee.tee, simulated: tee.simulated }, kbs },
      },
      io,
    )
  },
}
