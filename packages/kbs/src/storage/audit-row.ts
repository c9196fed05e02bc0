/**
 * One audit entry as the statements that append it see it: the columns in order, the values of an
 * {@link AuditEntryInput} in that order, and the two ways of appending — a plain INSERT (the audit
 * log; SQLite inside a transaction) and a SELECT list for PostgreSQL's `INSERT … SELECT` inside a
 * data-modifying `WITH`, where a write and its audit entry are one statement (one round trip, one
 * transaction).
 *
 * @module
 */
import {
  sql,
  type Compilable,
  type InsertQueryBuilder,
  type InsertResult,
  type Kysely,
  type RawBuilder,
} from 'kysely'
import type { AuditEntryInput } from '../ports.ts'
import { auditText } from './audit-text.ts'
import { param } from './hot-statement.ts'
import type { KbsDatabase } from './schema.ts'

/** The columns an append writes, with their SQL types (for PostgreSQL's casts), in order. */
const AUDIT_COLUMNS = [
  ['at', 'text'],
  ['action', 'text'],
  ['outcome', 'text'],
  ['workload', 'text'],
  ['resource', 'text'],
  ['tee', 'text'],
  ['reason', 'text'],
  ['evidence_digest', 'text'],
  ['simulated', 'integer'],
  ['detail', 'text'],
  ['session', 'text'],
] as const

/**
 * The values of `entry`, in column order (absent fields as NULL), every text made safe to store on
 * both engines ({@link auditText}: a client-chosen NUL must not turn a denial into a lost entry).
 */
export function auditValues(entry: AuditEntryInput): unknown[] {
  return [
    entry.at.toISOString(),
    auditText(entry.action),
    auditText(entry.outcome),
    auditText(entry.workload),
    auditText(entry.resource),
    auditText(entry.tee),
    auditText(entry.reason),
    auditText(entry.evidenceDigest),
    entry.simulated === undefined ? null : Number(entry.simulated),
    auditText(entry.detail),
    auditText(entry.session),
  ]
}

/** `INSERT INTO audit_entry … RETURNING *` with the entry's values as arguments 0…9. */
export function auditInsert(
  db: Kysely<KbsDatabase>,
): InsertQueryBuilder<KbsDatabase, 'audit_entry', InsertResult> {
  const values = Object.fromEntries(AUDIT_COLUMNS.map(([column], index) => [column, param(index)]))
  return db.insertInto('audit_entry').values(values as never)
}

/**
 * `INSERT INTO audit_entry (…) SELECT <the entry as arguments first…first+9> FROM <source>`, for
 * PostgreSQL: one row per row of `source` (a `WITH` name), so the entry is appended exactly when
 * the write it records happened. Cast, as PostgreSQL cannot infer a parameter's type in a select
 * list.
 */
export function auditInsertFrom(source: string, first: number): RawBuilder<unknown> {
  const columns = sql.join(AUDIT_COLUMNS.map(([column]) => sql.id(column)))
  const values = sql.join(
    AUDIT_COLUMNS.map(([, type], index) => sql`CAST(${param(first + index)} AS ${sql.raw(type)})`),
  )
  return sql`INSERT INTO audit_entry (${columns}) SELECT ${values} FROM ${sql.id(source)}`
}

/** `raw`, compilable without arguments (what a hot statement takes), for `db`'s dialect. */
export function compilable<Row>(db: Kysely<KbsDatabase>, raw: RawBuilder<Row>): Compilable<Row> {
  return { compile: () => raw.compile(db) }
}

/** `entry` as an object of column values, for an insert built with kysely's builder. */
export function auditColumnValues(entry: AuditEntryInput): Readonly<Record<string, unknown>> {
  const values = auditValues(entry)
  return Object.fromEntries(AUDIT_COLUMNS.map(([column], index) => [column, values[index]]))
}
