/**
 * Option values of the `kbs` commands that name things in a KBS, checked by the KBS's own rules
 * before anything is sent (kept out of `option-values.ts` so that other commands do not load the
 * protocol package).
 *
 * @module
 */
import {
  ADMIN_AUDIENCE_RULE,
  isAdminAudience,
  isWorkloadName,
  resourcePath,
} from '@initguard/kbs-protocol'
import { URL_VALUE, checkedValue, type OptionValue } from '../option-values.ts'

/**
 * A KBS resource path, `repo/type/tag` with Trustee's segment rule (a leading `/` is dropped). It
 * is checked here, not left to the KBS: a URL resolves `.` and `..` segments before sending, so
 * `default/app/x/../key` would act on `default/app/key`.
 */
export const RESOURCE_PATH_VALUE: OptionValue<string> = checkedValue(
  { name: 'resource-path' },
  'a resource path repo/type/tag, each segment of letters, digits, _ - and . (not first)',
  'default/app/key',
  (text, refuse) => {
    try {
      return resourcePath(text)
    } catch {
      return refuse()
    }
  },
)

/** A KBS workload name, as a workload definition takes it: `^[a-z0-9][a-z0-9._-]{0,62}$`. */
export const WORKLOAD_NAME_VALUE: OptionValue<string> = checkedValue(
  { name: 'workload-name' },
  'a workload name: 1 to 63 of a-z, 0-9, ., _ and -, starting with a letter or digit',
  'web',
  (text, refuse) => (isWorkloadName(text) ? text : refuse()),
)

/**
 * A KBS admin audience (`kbs serve --admin-audience`, and `kbs admin --admin-audience` to sign
 * for it): one value, by the rule the KBS applies, so a typo is refused here rather than answered
 * 401 by the KBS.
 */
export const ADMIN_AUDIENCE_VALUE: OptionValue<string> = checkedValue(
  { name: 'admin-audience' },
  `an admin audience, ${ADMIN_AUDIENCE_RULE}`,
  'https://kbs.prod.example:8443',
  (text, refuse) => (isAdminAudience(text) ? text : refuse()),
)

/**
 * The URL of a KBS for `kbs admin`: an http:// or https:// URL, with a path prefix when the KBS is
 * behind one, but no user info, query or fragment. The API paths are appended to it: after a `?`
 * or `#` they would be sent as a query or not at all (the token going to another path), and user
 * info would be sent as Basic credentials the KBS never asked for.
 */
export const KBS_URL_VALUE: OptionValue<string> = checkedValue(
  { name: 'url' },
  'an http:// or https:// URL of the KBS, without user info, query or fragment',
  'https://127.0.0.1:8443',
  (text, refuse) => {
    let url: URL
    try {
      url = new URL(URL_VALUE.parse(text, 'url'))
    } catch {
      return refuse()
    }
    if (url.username !== '' || url.password !== '' || /[?#]/.test(text)) return refuse()
    return text
  },
)
