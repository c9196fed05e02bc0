/**
 * `initguard demo` (what `npm start` runs): the whole system on one machine, as a short story with
 * a result per step. The host builds an initdata document and a relying party checks a simulated
 * SEV-SNP launch against it; then a KBS (a child process, HTTPS) and three simulated guests, each
 * running the agent (a child process): the honest one gets its secret, one given a document edited
 * after launch refuses to start, one launched with another document is refused by the KBS.
 *
 * @module
 */
import { join } from 'node:path'
import { stringOption, type Command } from '../command.ts'
import { PATH_VALUE } from '../option-values.ts'
import type { CliIo } from '../cli-io.ts'
import { withDemoChildren } from './demo-child-process.ts'
import { allowExec, demoHonestGuest, demoTamperedGuest } from './demo-guests.ts'
import { EXAMPLES, demoInitdataDocument, demoSnpEvidence } from './demo-host-steps.ts'
import { Narrative } from './demo-narrative.ts'
import { demoOtherGuest } from './demo-other-guest.ts'
import { startDemoSystem } from './demo-system.ts'
import { withDemoDirectory } from './demo-temporary-directory.ts'
import { noArguments } from './kbs-keygen.ts'

/**
 * `initguard demo`: the whole system on simulated TEEs, as a narrative with one result per step
 * (initdata, evidence and image-policy steps, a KBS child process, and three guests with their
 * agents: honest, tampered after launch, launched with another document). Exit 0 only when every
 * outcome is the expected one, 5 otherwise; `--out DIR` keeps the files.
 */
export const demoCommand: Command = {
  name: 'demo',
  summary:
    'Run the whole system on simulated TEEs: initdata, evidence, a KBS and three guests with their agents.',
  usage: '',
  description: [
    'Builds an initdata document from the bundled examples and checks a simulated SEV-SNP launch',
    'against it; then starts a KBS (HTTPS, a child process), registers a workload and a secret,',
    'launches three simulated guests and runs `initguard agent start` in each: the honest guest',
    'gets the secret, a document edited after launch stops its agent, a guest launched with',
    "another document is refused by the KBS (403, the audit log's reason). Exits 0 only when",
    'every outcome is the expected one; no root, no network.',
    '',
    'Writes its files (documents, the KBS data, logs of each process) to --out DIR, a new or',
    'empty directory, and keeps them; without --out, to a new temporary directory removed when',
    'the demo ends, whether it succeeds, fails or is interrupted. Every process it started is',
    'stopped when it ends.',
  ].join('\n'),
  options: {
    out: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'DIR',
      help: 'where to write (and keep) the files the demo makes: a new or empty directory',
    },
  },
  run: (args, io) => {
    noArguments(args.positionals, 'demo')
    return withDemoDirectory(stringOption(args, 'out'), (out, kept) => runDemo(out, kept, io))
  },
}

/**
 * How the demo's two refused guests differ from the registered document. Tests swap them to check
 * that an outcome other than the expected one makes the demo fail.
 */
export interface DemoEdits {
  /** What the host changes after launch in the document the tampered guest's agent is given. */
  readonly tampered: (document: string) => string
  /** The document the other guest is launched with. */
  readonly other: (document: string) => string
}

const DEFAULT_EDITS: DemoEdits = { tampered: allowExec, other: allowExec }

/**
 * The demo, writing to `out`; `kept` is the directory the files stay in afterwards (`--out`), or
 * undefined when `out` is temporary. Returns 0 only when every outcome was the expected one.
 */
export async function runDemo(
  out: string,
  kept: string | undefined,
  io: CliIo,
  edits: DemoEdits = DEFAULT_EDITS,
): Promise<number> {
  const started = performance.now()
  const story = new Narrative(io)
  story.say('Initguard: the whole system on simulated TEEs (no root, no network).')
  story.say(`Example inputs: ${EXAMPLES}`)
  story.say(`Files: ${out}${kept === undefined ? ' (temporary: removed at the end)' : ''}`)
  const document = await demoInitdataDocument(story, out)
  await demoSnpEvidence(story, out, document)
  await withDemoChildren(async () => {
    const system = await startDemoSystem(story, out)
    if (system === undefined) return
    const stage = { story, system, out }
    await story.attempt('the honest guest', () => demoHonestGuest(stage))
    await story.attempt('the tampered guest', () => demoTamperedGuest(stage, edits.tampered))
    await story.attempt('the other guest', () => demoOtherGuest(stage, edits.other))
    const stopped = await system.kbs.stop()
    story.say()
    story.check(stopped === 0, 'the KBS stopped cleanly on SIGTERM', `exit ${stopped}`)
  })
  story.say()
  story.say(story.summary((performance.now() - started) / 1000))
  hints(story, kept)
  // 5, as for any expectation not met: an outcome other than the expected one is not a bug here.
  return story.allExpected ? 0 : 5
}

function hints(story: Narrative, kept: string | undefined): void {
  const dir = kept ?? 'DIR'
  story.say()
  story.say(
    kept === undefined
      ? 'Keep the files with `npx initguard demo --out DIR` (or `npm start -- --out DIR`), then try:'
      : 'Try the same with the CLI:',
  )
  story.say(`  npx initguard initdata digest ${join(dir, 'initdata.toml')} --tee snp`)
  story.say(
    `  npx initguard agent check-initdata --initdata ${join(dir, 'initdata-tampered.toml')} --tee sim --sim-dir ${join(dir, 'sim')} --sim-guest tampered`,
  )
  story.say(
    `  npx initguard evidence verify ${join(dir, 'report.bin')} --certs ${join(dir, 'vcek.pem')} --trust-root ${join(dir, 'test-roots.pem')} --expect-initdata ${join(dir, 'initdata.toml')}`,
  )
}
