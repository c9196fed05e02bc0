/**
 * The demo's three guests, each launched with `sim launch` and running `initguard agent start` (a
 * child process): the honest guest gets its secret; a guest whose document was edited after
 * launch has an agent that refuses to start; a guest launched with another, self-consistent
 * document has an agent that starts, and the KBS refuses it (403, the reason from its audit log).
 *
 * @module
 */
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AGENT_KBS_TOTAL_TIMEOUT_MS } from '@initguard/agent'
import { InternalError } from '@initguard/core'
import { HttpClient, httpErrors } from '@initguard/http'
import { startInitguard, type ChildStart, type DemoChild } from './demo-child-process.ts'
import { demoImagePolicy } from './demo-image-policy.ts'
import type { Narrative } from './demo-narrative.ts'
import { DEMO_SECRET_PATH, firstLine, initguardHere, type DemoSystem } from './demo-system.ts'

/** What the host changes in the document: the workload's policy now lets it exec into the pod. */
export function allowExec(document: string): string {
  const edited = document.replace(
    'default ExecProcessRequest := false',
    'default ExecProcessRequest := true',
  )
  if (edited === document)
    throw new InternalError(
      'ERR_DEMO_EXAMPLE_POLICY',
      'the example policy.rego no longer denies exec',
      {
        hint: 'restore `default ExecProcessRequest := false` in packages/cli/examples/policy.rego',
      },
    )
  return edited
}

/** One guest of the demo: its name, what it is launched with and what its agent is given. */
export interface DemoGuest {
  readonly name: string
  readonly launchedWith: string
  readonly agentGiven: string
}

/** What each guest of the demo plays on: the narrative, the running system and the files' folder. */
export interface DemoStage {
  readonly story: Narrative
  readonly system: DemoSystem
  readonly out: string
}

/** Write the registered document changed by `edit` to `initdata-<name>.toml`; returns its path. */
export async function writeEditedDocument(
  { system, out }: DemoStage,
  name: string,
  edit: (document: string) => string,
): Promise<string> {
  const path = join(out, `initdata-${name}.toml`)
  await writeFile(path, edit(system.documentText), { mode: 0o600 })
  return path
}

/** Launch `guest` in the simulator; false (reported) when that fails. */
export async function launchGuest(
  { story, system }: DemoStage,
  guest: DemoGuest,
): Promise<boolean> {
  const run = await initguardHere([
    ...['sim', 'launch', '--sim-dir', system.simDir, '--tee', 'snp', '--replace'],
    ...['--initdata', guest.launchedWith, '--name', guest.name],
  ])
  const hostData = /HOST_DATA ([0-9a-f]{24})/.exec(run.stdout)?.[1] ?? '?'
  return story.check(
    run.code === 0,
    `sim launch ${guest.name}: SEV-SNP, HOST_DATA ${hostData}… fixed from ${guest.launchedWith.split('/').pop() ?? ''}`,
    `exit ${run.code}: ${firstLine(run.stderr)}`,
  )
}

/** Start the agent of `guest` (`agent start`, a child process on a free loopback port). */
export function startAgent({ system, out }: DemoStage, guest: DemoGuest): Promise<ChildStart> {
  return startInitguard(
    [
      ...['agent', 'start', '--initdata', guest.agentGiven, '--tee', 'sim'],
      ...['--sim-dir', system.simDir, '--sim-guest', guest.name, '--listen', '127.0.0.1:0'],
      ...['--runtime-dir', join(out, `run-${guest.name}`)],
    ],
    {
      ready: /initguard agent ready: (http:\/\/127\.0\.0\.1:\d+)/,
      logFile: join(out, `agent-${guest.name}.log`),
    },
  )
}

/**
 * Launch `guest`, start its agent and expect it to serve: the guest API's base URL and the agent,
 * or undefined (after saying why) when the launch failed or the agent exited.
 */
export async function launchServingGuest(
  stage: DemoStage,
  guest: DemoGuest,
  serving: string,
): Promise<{ readonly base: string; readonly agent: DemoChild } | undefined> {
  if (!(await launchGuest(stage, guest))) return undefined
  const started = await startAgent(stage, guest)
  const { story } = stage
  if (started.kind === 'exited') {
    story.fail(`agent start exited ${started.code}: ${firstLine(started.child.output())}`)
    return undefined
  }
  const base = started.match[1] ?? ''
  story.pass(`agent start (pid ${started.child.pid}): ${serving.replace('BASE', base)}`)
  return { base, agent: started.child }
}

/**
 * How long the demo waits for an agent's headers, and at most between two pieces of its body:
 * 35 s. An agent sends its headers only once it has the answer, and an answer that needs a
 * handshake and then the resource may take two of its KBS deadlines
 * ({@link AGENT_KBS_TOTAL_TIMEOUT_MS} each); the wait covers both and a margin, so an honest, slow
 * run ends with the agent's own error, not with the demo giving up first.
 */
export const DEMO_GUEST_API_HEADER_TIMEOUT_MS: number = 2 * AGENT_KBS_TOTAL_TIMEOUT_MS + 5_000

/**
 * How long one guest-API request of the demo may take in all: 60 s. The header timeout
 * ({@link DEMO_GUEST_API_HEADER_TIMEOUT_MS}) bounds only the wait for the headers and each stall in
 * the body, so without a total an agent (or anything on its port) sending a byte every few seconds
 * would hold the demo for ever.
 */
export const DEMO_GUEST_API_TOTAL_TIMEOUT_MS = 60_000

/** Timing of the demo's guest-API client; the defaults are the demo's, tests make them short. */
export interface GuestApiTiming {
  /**
   * The longest wait for the headers and the longest stall in the body; default
   * {@link DEMO_GUEST_API_HEADER_TIMEOUT_MS}.
   */
  readonly timeoutMs?: number
  /**
   * The whole request; default {@link DEMO_GUEST_API_TOTAL_TIMEOUT_MS}. Past it:
   * `ERR_DEMO_GUEST_API_DEADLINE` (an `UnavailableError`, exit 6).
   */
  readonly totalTimeoutMs?: number
}

/** The demo's client for the agents' guest APIs (loopback HTTP): one attempt each. */
export function guestApiClient(timing: GuestApiTiming = {}): HttpClient {
  return new HttpClient({
    attempts: 1,
    timeoutMs: timing.timeoutMs ?? DEMO_GUEST_API_HEADER_TIMEOUT_MS,
    totalTimeoutMs: timing.totalTimeoutMs ?? DEMO_GUEST_API_TOTAL_TIMEOUT_MS,
    errors: httpErrors({
      area: 'DEMO_GUEST_API',
      hints: {
        deadline:
          "the agent did not finish its answer in time (a demo request may take 60 s in all): see the agent's log (agent-<guest>.log) and run the demo again",
      },
    }),
  })
}

const GUEST_API_CLIENT = guestApiClient()

/**
 * GET `path` from an agent's guest API.
 *
 * @throws `ERR_DEMO_GUEST_API_DEADLINE` (an `UnavailableError`) when the whole answer does not
 *   arrive within the client's total timeout; the client's other `ERR_DEMO_GUEST_API_…` errors.
 */
export async function guestGet(
  base: string,
  path: string,
  client: HttpClient = GUEST_API_CLIENT,
): Promise<{ status: number; body: Buffer }> {
  // A 4xx is an answer the demo shows (the KBS's 403 comes back as one); 5xx fail as coded errors.
  return client.request(
    { url: `${base}${path}`, what: `GET ${path} from the agent's guest API` },
    async (response) => ({
      status: response.status,
      body: Buffer.from(await response.bytes({ maxBytes: 1024 * 1024 })),
    }),
  )
}

/** Guest 1: launched with the registered document, its agent given the same. */
export async function demoHonestGuest(stage: DemoStage): Promise<void> {
  const { story, system } = stage
  const guest = { name: 'honest', launchedWith: system.document, agentGiven: system.document }
  story.step('Guest "honest": launched with initdata-kbs.toml, its agent given the same')
  const serving = await launchServingGuest(stage, guest, 'init-data verified, guest API at BASE')
  if (serving === undefined) return
  const { base, agent } = serving
  const secret = await guestGet(base, `/cdh/resource/${DEMO_SECRET_PATH}`)
  story.check(
    secret.status === 200 && secret.body.equals(Buffer.from(system.secret)),
    `GET /cdh/resource/${DEMO_SECRET_PATH}: the agent attested to the pinned KBS and the secret was released, byte for byte`,
    `HTTP ${secret.status}: ${secret.body.toString().slice(0, 200)}`,
  )
  const cdh = await guestGet(base, '/initdata/cdh.toml')
  if (!story.check(cdh.status === 200, 'GET /initdata/cdh.toml: the verified cdh.toml')) return
  story.say('  Inside the guest, the image policy from the verified cdh.toml decides what may run:')
  await demoImagePolicy(story, cdh.body.toString('utf8'), system.releaseKey)
  const stopped = await agent.stop()
  story.check(stopped === 0, 'agent stopped cleanly on SIGTERM', `exit ${stopped}`)
}

/**
 * Guest 2: launched with the document; the host then gives its agent a copy changed by `edit`.
 */
export async function demoTamperedGuest(
  stage: DemoStage,
  edit: (document: string) => string = allowExec,
): Promise<void> {
  const { story, system, out } = stage
  story.step(
    'Guest "tampered": launched with initdata-kbs.toml; after launch the host edits it (policy.rego allows exec)',
  )
  const agentGiven = await writeEditedDocument(stage, 'tampered', edit)
  const guest = { name: 'tampered', launchedWith: system.document, agentGiven }
  if (!(await launchGuest(stage, guest))) return
  const started = await startAgent(stage, guest)
  if (started.kind === 'ready') {
    story.fail(`the agent started with the edited document (${started.match[0]})`)
    await started.child.stop()
    return
  }
  const output = started.child.output()
  story.check(
    started.code === 5 && output.includes('ERR_AGENT_INITDATA_MISMATCH'),
    `agent start refused to start: exit ${started.code}, ${/code: (\S+)/.exec(output)?.[1] ?? 'no code'}`,
    firstLine(output),
  )
  const expected = /expected ([0-9a-f]{16,})/.exec(output)?.[1]
  const found = /found ([0-9a-f]{16,})/.exec(output)?.[1]
  if (expected !== undefined && found !== undefined)
    story.detail(
      `HOST_DATA expected ${expected.slice(0, 24)}… (the edited copy's digest), found ${found.slice(0, 24)}… (fixed at launch)`,
    )
  const written = await readdir(join(out, `run-${guest.name}`)).catch(() => [])
  story.check(written.length === 0, 'nothing written, nothing served', written.join(', '))
}
