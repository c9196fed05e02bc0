/**
 * `initguard agent pull-image`: an image pull inside the guest, as CoCo's image-rs does it, but
 * only under the policy of the verified `cdh.toml`. The init-data check comes first (exit 5 on a
 * mismatch, nothing fetched); then the policy, its sigstore config and its `kbs:///…` key files
 * are loaded through the attested KBS session the verified documents name; then the decision and
 * the pull, exactly as `initguard image pull` (exit 5 when refused, DEST untouched). No option
 * chooses the policy, its dialect, its lookaside stores, the time it is judged at, the registry
 * credentials, plain-HTTP registries or the downloads at once: the host could otherwise replace
 * or weaken what the hardware vouched for. Only `--platform` stays: it picks an entry of a
 * manifest list, and the policy decides on what is pulled (the platform's manifest, fetched by
 * the digest the list names, and with image-rs a signature over the list covers its entries).
 *
 * @module
 */
import {
  establishInitdata,
  kbsResourceResolver,
  loadGuestImagePolicy,
  openAgentKbs,
  type UnboundInitdata,
  type VerifiedInitdata,
} from '@initguard/agent'
import { JSON_OPTION, parsedOption, type Command } from '../command.ts'
import { PLATFORM_VALUE } from '../option-values.ts'
import { AGENT_GUEST_OPTIONS, agentInitdataSource, openAgentTee } from './agent-tee-options.ts'
import { REGISTRY_ACCESS_OPTIONS, pullArguments } from './image-pull-options.ts'

const NAME = 'agent pull-image'

/**
 * `initguard agent pull-image --initdata FILE --tee … [--platform OS/ARCH] [--json] REF DEST`:
 * the init-data check, then a pull under the verified `cdh.toml`'s `[image]` only (policy,
 * sigstore config, registry credentials, `registry_config`, downloads at once; any other
 * `[image]` key is refused with `ERR_AGENT_IMAGE_KEY_UNSUPPORTED`). Exit codes: 0 pulled;
 * 2 DEST not empty (`ERR_PULL_DEST_NOT_EMPTY`, also for the loser of two pulls into one DEST);
 * 3 a malformed document or resource; 5 init-data mismatch, no policy, a key or registry rule the
 * agent refuses, or the policy's refusal; 6 KBS or registry unreachable; 7 a guest file that
 * cannot be read.
 */
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
    'a refused image exits 5 and DEST is untouched; an unreachable KBS or registry exits 6; a DEST',
    'that is not empty exits 2 (also the loser of two pulls into the same DEST: nothing mixed);',
    'stopped by Ctrl-C mid-pull, it exits 130 (128 + the signal) and DEST stays as it was.',
    'Registry access comes from the same [image]: authenticated_registry_credentials_uri (a docker',
    'config.json, e.g. kbs:///REPO/TYPE/TAG), max_concurrent_layer_downloads_per_image, and',
    'registry_config [[registry]] entries that block a prefix or mark a host[:port] insecure (plain',
    'HTTP). Any other [image] key (extra_root_certificates, image_pull_proxy, …) is refused (exit 5)',
    'rather than ignored. There is no --policy, --registries-d, --image-rs, --at, --authfile,',
    '--insecure-registry or --concurrency: only the verified document decides.',
    '',
    'Example: initguard agent pull-image --initdata initdata.toml --tee sim --sim-dir ./sim \\',
    '           --sim-guest web quay.io/org/app:v1 ./rootfs',
  ].join('\n'),
  options: {
    ...AGENT_GUEST_OPTIONS,
    platform: REGISTRY_ACCESS_OPTIONS.platform,
    json: JSON_OPTION,
  },
  async run(args, io) {
    const pull = pullArguments(args, NAME, { concurrency: false })
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
    // Before any registry request: a registry the verified document blocks is never contacted.
    guest.registry.checkAllowed(pull.reference)
    const platform = parsedOption(args, 'platform', PLATFORM_VALUE)
    // Loaded only now: the agent command group stays light for `agent start`'s cold start.
    const [{ parseRegistriesD }, { runImagePull }] = await Promise.all([
      import('@initguard/oci'),
      import('./image-pull-run.ts'),
    ])
    const kbs = opened.access.kind === 'session' ? opened.access.session.endpoint.url : null
    return runImagePull(
      {
        ...pull,
        concurrency: guest.registry.concurrency,
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
          insecureRegistries: guest.registry.insecureRegistries,
          ...(guest.registry.credentials === undefined
            ? {}
            : { credentials: guest.registry.credentials }),
          ...(platform === undefined ? {} : { platform }),
        },
        extraJson: { initdata: initdataJson(initdata, tee), kbs },
      },
      io,
    )
  },
}

/** What vouched for the policy, for the JSON report: from the init-data result, never assumed. */
function initdataJson(
  initdata: VerifiedInitdata | UnboundInitdata,
  tee: { readonly tee: string; readonly simulated: boolean },
): Record<string, unknown> {
  if ('unbound' in initdata)
    return { verified: false, unbound: true, reason: initdata.reason, tee: tee.tee }
  return { verified: true, tee: initdata.tee, simulated: initdata.simulated }
}
