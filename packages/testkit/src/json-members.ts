/**
 * Paths into a JSON value and copies with one member changed, for property tests that damage a
 * valid document one member at a time.
 *
 * @module
 */

/** A path to a member (key) or element (index) of a JSON value. */
export type JsonPath = readonly (string | number)[]

/** Bounds of {@link jsonMemberPaths}. */
export interface JsonMemberPathsOptions {
  /** Deepest level listed (0: the top level's members only); default unbounded. */
  readonly maxDepth?: number
  /** Elements listed per array; default all. */
  readonly maxItems?: number
}

/** Every path to a member or element of `value`, parents before children. */
export function jsonMemberPaths(value: unknown, options: JsonMemberPathsOptions = {}): JsonPath[] {
  const { maxDepth = Number.POSITIVE_INFINITY, maxItems = Number.POSITIVE_INFINITY } = options
  const walk = (at: unknown, prefix: JsonPath, depth: number): JsonPath[] => {
    if (typeof at !== 'object' || at === null || depth > maxDepth) return []
    const entries: [string | number, unknown][] = Array.isArray(at)
      ? at.slice(0, maxItems).map((v: unknown, i) => [i, v])
      : Object.entries(at)
    return entries.flatMap(([key, child]) => [
      [...prefix, key],
      ...walk(child, [...prefix, key], depth + 1),
    ])
  }
  return walk(value, [], 0)
}

/**
 * A deep copy of `value` with the member at `path` replaced, or removed when `replacement` is
 * `undefined`. A key such as `__proto__` becomes an own member, as `JSON.parse` makes it.
 */
export function withJsonMember(value: unknown, path: JsonPath, replacement: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>
  let at: Record<string | number, unknown> = copy
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>
  const last = path.at(-1) ?? ''
  if (replacement === undefined) Reflect.deleteProperty(at, last)
  else Object.defineProperty(at, last, { value: replacement, enumerable: true, writable: true })
  return copy
}

/** The member of `value` at `path`, or undefined when a step is missing or not an object. */
export function jsonMemberAt(value: unknown, path: JsonPath): unknown {
  return path.reduce<unknown>(
    (at, key) =>
      typeof at === 'object' && at !== null
        ? (at as Record<string | number, unknown>)[key]
        : undefined,
    value,
  )
}
