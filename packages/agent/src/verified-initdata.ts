/**
 * What the init-data check hands to everything after it: the document that matched the hardware,
 * and the report that vouched for it. Nothing in the agent reads configuration from anywhere else.
 *
 * @module
 */
import type { InitdataDocument } from '@initguard/initdata'
import type { GuestReport, GuestTeeKind } from '@initguard/tee'

/** Where the document came from, for logs and errors. */
export type InitdataSourceKind = 'file' | 'annotation' | 'image'

/** A document whose fitted digest equalled the init-time field of a fresh report. */
export interface VerifiedInitdata {
  /** The parsed document; `document.bytes` are the exact bytes that were digested and compared. */
  readonly document: InitdataDocument
  /** The exact document text (UTF-8 of `document.bytes`), as sent to the KBS as `init-data`. */
  readonly text: string
  /**
   * Where the bytes were read from, once: the form (`file`, `annotation`, `image`) and the path
   * (for an image found by its magic, the device it was found under). For logs and errors only.
   */
  readonly source: { readonly kind: InitdataSourceKind; readonly path: string }
  /** The TEE whose fresh report vouched for the document (the report's own kind). */
  readonly tee: GuestTeeKind
  /** True when the report came from the TEE simulator. */
  readonly simulated: boolean
  /** The report whose init-time field matched. */
  readonly report: GuestReport
}

/**
 * Set only when the agent runs unbound (an explicit flag): no check was made, and every response
 * must say so.
 */
export interface UnboundInitdata {
  readonly unbound: true
  readonly document: InitdataDocument
  readonly text: string
  /** Where the bytes were read from, as in {@link VerifiedInitdata.source}; nothing vouches for them. */
  readonly source: { readonly kind: InitdataSourceKind; readonly path: string }
  /** Why the check was not made (the flag's name), repeated in every response. */
  readonly reason: string
}
