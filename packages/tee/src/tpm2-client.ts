/**
 * A minimal TPM 2.0 client: `TPM2_PCR_Read` and `TPM2_PCR_Extend` on the SHA-256 bank, over a
 * {@link Tpm2Transport}. No sessions beyond the empty password a PCR has by default, no objects,
 * no crypto of its own: the TPM does the hashing.
 *
 * @module
 */
import {
  parsePcrExtendResponse,
  parsePcrReadResponse,
  pcrExtendCommand,
  pcrReadCommand,
} from './tpm2-commands.ts'
import {
  DEFAULT_TPM_PATH,
  openTpm2Transport,
  type Tpm2Transport,
  type Tpm2TransportOptions,
} from './tpm2-transport.ts'

/** The two PCR operations a vTPM binding needs. */
export interface PcrSha256Access {
  /** What and where, for messages (`/dev/tpmrm0`). */
  readonly description: string
  /** The 32-byte value of SHA-256 PCR `pcr` (0..23). */
  readPcrSha256(pcr: number, signal?: AbortSignal): Promise<Uint8Array>
  /** Extend SHA-256 PCR `pcr` with a 32-byte digest: `PCR := SHA-256(PCR ‖ digest)`. */
  extendPcrSha256(pcr: number, digest: Uint8Array, signal?: AbortSignal): Promise<void>
}

/** A TPM 2.0 client over one transport (see the module comment). */
export class Tpm2Client implements PcrSha256Access {
  readonly #transport: Tpm2Transport

  constructor(transport: Tpm2Transport) {
    this.#transport = transport
  }

  get description(): string {
    return this.#transport.description
  }

  /**
   * @throws `MalformedInputError` `ERR_TPM_PCR_INDEX`, and every error of the response checks
   *   (`parsePcrReadResponse`) and of the transport; `UnavailableError` `ERR_TPM_PCR_UNAVAILABLE`
   *   when the SHA-256 bank is not allocated; a `TpmCommandError` for a refusal.
   */
  async readPcrSha256(pcr: number, signal?: AbortSignal): Promise<Uint8Array> {
    const command = pcrReadCommand(pcr)
    const response = await this.#transport.transmit(command, signal)
    return parsePcrReadResponse(response, command, pcr, this.description)
  }

  /**
   * @throws `MalformedInputError` `ERR_TPM_PCR_INDEX`, `ERR_TPM_DIGEST_LENGTH`, and every error of
   *   the response checks and of the transport; a `TpmCommandError` for a refusal.
   */
  async extendPcrSha256(pcr: number, digest: Uint8Array, signal?: AbortSignal): Promise<void> {
    const command = pcrExtendCommand(pcr, digest)
    const response = await this.#transport.transmit(command, signal)
    parsePcrExtendResponse(response, command, this.description)
  }

  /** Release the transport. Idempotent. */
  close(): Promise<void> {
    return this.#transport.close()
  }
}

/**
 * Open a client on the TPM at `path` (default {@link DEFAULT_TPM_PATH}).
 *
 * @throws every error of {@link openTpm2Transport}.
 */
export async function openTpm2Client(
  path: string = DEFAULT_TPM_PATH,
  options: Tpm2TransportOptions = {},
): Promise<Tpm2Client> {
  return new Tpm2Client(await openTpm2Transport(path, options))
}
