/**
 * Resource path patterns: which secrets a workload may receive.
 *
 * ```text
 * pattern  = segment "/" segment "/" segment            (repository / type / tag)
 * segment  = 1*( [A-Za-z0-9_.-] / "*" ), not starting with "."
 * "*"      = any characters (possibly none) inside one segment; never crosses a "/"
 * ```
 *
 * `default/*\/*` is every secret of repository `default`; `prod/tls-*\/cert` every `cert` of a
 * `tls-…` type. A resource path itself follows Trustee's rule, each segment
 * `^[A-Za-z0-9_-][A-Za-z0-9_.-]*$`; a path that does not is matched by no pattern.
 *
 * @module
 */
import { invalid, stringAt } from './definition-reader.ts'

const PATTERN_SEGMENT = /^[A-Za-z0-9_*-][A-Za-z0-9_.*-]*$/
const PATH_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/
/** Longest accepted pattern or path, in characters. */
const MAX_LENGTH = 512

const PATTERN_HINT =
  'write repository/type/tag, each segment of letters, digits, _ . - (not starting with .) where * stands for any characters inside that segment, e.g. "default/tls/*"'

/**
 * Validate a pattern at `path` of a definition.
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` naming `path`.
 */
export function parseResourcePattern(value: unknown, path: string): string {
  const text = stringAt(value, path, PATTERN_HINT)
  if (text.length > MAX_LENGTH) {
    throw invalid(path, `is ${text.length} characters long (at most ${MAX_LENGTH})`, PATTERN_HINT)
  }
  const segments = text.split('/')
  if (segments.length !== 3) {
    throw invalid(
      path,
      `has ${segments.length} segment${segments.length === 1 ? '' : 's'} (${JSON.stringify(text.slice(0, 60))}); a resource path has exactly 3`,
      PATTERN_HINT,
    )
  }
  segments.forEach((segment, i) => {
    if (!PATTERN_SEGMENT.test(segment)) {
      throw invalid(
        path,
        `segment ${i + 1} ${JSON.stringify(segment.slice(0, 60))} is not allowed`,
        PATTERN_HINT,
      )
    }
  })
  return text
}

/** True when `path` is a valid resource path (3 segments, Trustee's characters). */
export function isResourcePath(path: string): boolean {
  if (path.length > MAX_LENGTH) return false
  const segments = path.split('/')
  return segments.length === 3 && segments.every((s) => PATH_SEGMENT.test(s))
}

/** A compiled pattern: `matches(path)` for valid resource paths. */
export interface ResourcePattern {
  readonly pattern: string
  matches(path: string): boolean
}

/**
 * Whether `text` matches `segment`, where `*` stands for any run of characters (the greedy
 * wildcard walk: it remembers only the last `*`, so the time is linear in practice and never the
 * exponential back-tracking a regular expression with many `*` can take on a guest's path).
 */
function segmentMatches(segment: string, text: string): boolean {
  let p = 0
  let t = 0
  let star = -1
  let resume = 0
  while (t < text.length) {
    if (p < segment.length && segment[p] !== '*' && segment[p] === text[t]) {
      p++
      t++
    } else if (p < segment.length && segment[p] === '*') {
      star = p++
      resume = t
    } else if (star !== -1) {
      p = star + 1
      t = ++resume
    } else {
      return false
    }
  }
  while (p < segment.length && segment[p] === '*') p++
  return p === segment.length
}

/** Compile a validated pattern. */
export function compileResourcePattern(pattern: string): ResourcePattern {
  const segments = pattern.split('/')
  return {
    pattern,
    matches: (path) => {
      if (!isResourcePath(path)) return false
      const parts = path.split('/')
      return segments.every((segment, i) => segmentMatches(segment, parts[i] ?? ''))
    },
  }
}
