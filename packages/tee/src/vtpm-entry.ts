/**
 * `@initguard/tee/vtpm`: the vTPM init-data binding alone (the TPM 2.0 client, its transports and
 * the PCR 8 bind), loaded only when `--tee vtpm` is asked for.
 *
 * @module
 */
export { openVtpm, type OpenVtpmOptions, type Vtpm } from './vtpm.ts'
export {
  INITDATA_PCR,
  bindInitdataPcr8,
  type VtpmBindOutcome,
  type VtpmBinding,
} from './vtpm-binding.ts'
export { Tpm2Client, openTpm2Client, type PcrSha256Access } from './tpm2-client.ts'
export {
  DEFAULT_TPM_PATH,
  DEFAULT_TPM_TIMEOUT_MS,
  openTpm2Transport,
  type Tpm2Transport,
  type Tpm2TransportOptions,
} from './tpm2-transport.ts'
export {
  TPM2_MAX_RESPONSE_SIZE,
  parsePcrExtendResponse,
  parsePcrReadResponse,
  pcrExtendCommand,
  pcrReadCommand,
  type Tpm2Command,
} from './tpm2-commands.ts'
export {
  TPM_ERROR_CODES,
  TpmCommandError,
  decodeResponseCode,
  type TpmResponseCode,
} from './tpm2-response-codes.ts'
