/**
 * @initguard/testkit: support for tests only (never a dependency of runtime code; lint enforces
 * it): helpers that catch and name the coded errors a test expects, a throwaway PostgreSQL cluster,
 * a throwaway software TPM (swtpm) with tpm2-tools, server processes tests start, scratch directories removed after a file's
 * tests, and HTTP servers on loopback.
 *
 * @module
 */
export { codeOf, outcome, rejected, rejectedCode, settledOutcome, thrown } from './thrown.ts'
export { jsonMemberAt, jsonMemberPaths, withJsonMember } from './json-members.ts'
export type { JsonMemberPathsOptions, JsonPath } from './json-members.ts'
export { POSTGRES_TEST_ROLE, postgresBinDir, startPostgresCluster } from './postgres-cluster.ts'
export type { PostgresCluster, PostgresClusterOptions } from './postgres-cluster.ts'
export { PCR_BANK_LENGTHS, commandOnPath, startSwtpm, startUnixSwtpm } from './swtpm.ts'
export { spawnServer } from './server-process.ts'
export type { ServerProcess } from './server-process.ts'
export type { PcrBank, Swtpm, SwtpmProcess, UnixSwtpm, UnixSwtpmOptions } from './swtpm.ts'
export { ScratchDirectories } from './scratch-directories.ts'
export { startHoldingServer, startLoopbackServer } from './loopback-server.ts'
export type { HoldingServer, LoopbackServer } from './loopback-server.ts'
