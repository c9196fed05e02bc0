/**
 * `memoryKbsStoreForTests`: the smallest honest in-memory `KbsStore`, for route tests written
 * before the SQLite store is merged (the integrator switches them to SQLite). It keeps every rule
 * the port states (single-use challenges, versions, append-only audit) so tests cannot pass
 * against it for the wrong reason.
 */
import type {
  AuditEntry,
  KbsStore,
  SessionRecord,
  SigningKeyRecord,
  StoredWorkload,
} from '../ports.ts'

/** An in-memory store for tests only. */
export function memoryKbsStoreForTests(): KbsStore {
  const resources = new Map<string, { value: Uint8Array; updatedAt: string }>()
  const workloads = new Map<string, StoredWorkload>()
  const audit: AuditEntry[] = []
  const sessions = new Map<string, SessionRecord>()
  let keys: SigningKeyRecord[] = []
  return {
    resources: {
      put: (path, value, now) => {
        resources.set(path, { value: value.slice(), updatedAt: now.toISOString() })
        return Promise.resolve()
      },
      get: (path) => Promise.resolve(resources.get(path)?.value.slice()),
      list: () =>
        Promise.resolve(
          [...resources].map(([path, r]) => ({
            path,
            size: r.value.length,
            updatedAt: r.updatedAt,
          })),
        ),
      delete: (path) => Promise.resolve(resources.delete(path)),
    },
    workloads: {
      put: (name, definition, now) => {
        const stored = {
          name,
          definition,
          version: (workloads.get(name)?.version ?? 0) + 1,
          updatedAt: now.toISOString(),
        }
        workloads.set(name, stored)
        return Promise.resolve(stored)
      },
      get: (name) => Promise.resolve(workloads.get(name)),
      list: () => Promise.resolve([...workloads.values()]),
      delete: (name) => Promise.resolve(workloads.delete(name)),
    },
    audit: {
      append: (entry) => {
        const stored = { ...entry, id: audit.length + 1, at: entry.at.toISOString() }
        audit.push(stored)
        return Promise.resolve(stored)
      },
      list: ({ afterId, limit }) =>
        Promise.resolve(audit.filter((e) => e.id > (afterId ?? 0)).slice(0, limit)),
    },
    sessions: {
      create: (session) => {
        sessions.set(session.id, { ...session, state: 'authed' })
        return Promise.resolve()
      },
      get: (id) => Promise.resolve(sessions.get(id)),
      consumeChallenge: (id, now) => {
        const session = sessions.get(id)
        if (session?.state !== 'authed' || session.expiresAt.getTime() <= now.getTime())
          return Promise.resolve(undefined)
        const consumed = { ...session, state: 'consumed' as const }
        sessions.set(id, consumed)
        return Promise.resolve(consumed)
      },
      markAttested: (id, token) => {
        const session = sessions.get(id)
        if (session?.state !== 'consumed')
          return Promise.reject(new Error(`session ${id} is not consumed`))
        sessions.set(id, { ...session, state: 'attested', token })
        return Promise.resolve()
      },
      deleteExpired: (now) => {
        let n = 0
        for (const [id, s] of sessions)
          if (s.expiresAt.getTime() < now.getTime() && sessions.delete(id)) n++
        return Promise.resolve(n)
      },
    },
    signingKeys: {
      list: () => Promise.resolve([...keys].reverse()),
      add: (key) => {
        keys.push(key)
        return Promise.resolve()
      },
      retire: (kid, at) => {
        keys = keys.map((k) => (k.kid === kid ? { ...k, retiredAt: at } : k))
        return Promise.resolve()
      },
      purge: (before) => {
        const kept = keys.filter((k) => k.retiredAt === undefined || k.retiredAt >= before)
        const n = keys.length - kept.length
        keys = kept
        return Promise.resolve(n)
      },
    },
    ping: () => Promise.resolve(),
    close: () => Promise.resolve(),
  }
}
