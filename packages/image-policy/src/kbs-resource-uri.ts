/**
 * CoCo's resource URIs for the KBS's resource plugin (guest-side.md §3.4), as Initguard takes
 * them: `kbs:///repo/type/tag`. Pure.
 *
 * CoCo ignores a host and port in the URI (the configured KBS is used); here a host is refused, so
 * a URI never seems to name a KBS it is not fetched from. Other plugins (`kbs+plugin://`), a
 * query, a fragment, and any number of segments but three are refused too.
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'

/** One segment as Trustee's `ResourceDesc` allows it. */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/

/**
 * `repo/type/tag` of `kbs:///repo/type/tag`.
 *
 * @param where - where the URI was written, for messages (`cdh.toml image.image_security_policy_uri`).
 * @throws {@link MalformedInputError} `ERR_KBS_RESOURCE_URI` naming what is wrong.
 */
export function kbsResourcePath(uri: string, where: string): string {
  const refuse = (why: string): MalformedInputError =>
    new MalformedInputError(
      'ERR_KBS_RESOURCE_URI',
      `${where}: ${JSON.stringify(uri.slice(0, 120))} ${why}`,
      {
        details: { where },
        hint: 'write kbs:///REPO/TYPE/TAG (no host: the KBS is the one the verified init-data names), each segment of letters, digits, _ - .',
      },
    )
  if (!uri.startsWith('kbs://')) throw refuse('is not a kbs:// URI')
  const rest = uri.slice('kbs://'.length)
  if (!rest.startsWith('/')) throw refuse('names a host; the KBS is the configured one')
  if (/[?#%]/.test(rest)) throw refuse('has a query, fragment or escape')
  const segments = rest.slice(1).split('/')
  if (segments.length !== 3 || !segments.every((s) => SEGMENT.test(s)))
    throw refuse('is not kbs:///REPO/TYPE/TAG')
  return segments.join('/')
}
