/** The demo's judgement of the other guest's refusal: denied, and for the expected reason. */
import { describe, expect, it } from 'vitest'
import { EXPECTED_DENIAL, otherGuestDenial, type AuditEntry } from './demo-other-guest.ts'

describe("the other guest's refusal in the audit log", () => {
  const issued: AuditEntry = { id: 1, action: 'attest', outcome: 'issued' }
  it('counts only a denial because no workload accepts the init-data', () => {
    const denied: AuditEntry = {
      id: 2,
      action: 'attest',
      outcome: 'denied',
      reason: EXPECTED_DENIAL,
    }
    expect(otherGuestDenial([issued, denied])).toEqual({ denied, expected: true })
  })

  it('a denial for another reason, or none, is not the expected outcome', () => {
    const other: AuditEntry = {
      id: 2,
      action: 'attest',
      outcome: 'denied',
      reason: 'ERR_KBS_EVIDENCE_INVALID',
    }
    expect(otherGuestDenial([issued, other])).toEqual({ denied: other, expected: false })
    expect(otherGuestDenial([issued])).toEqual({ denied: undefined, expected: false })
    const resource: AuditEntry = {
      id: 3,
      action: 'resource',
      outcome: 'denied',
      reason: EXPECTED_DENIAL,
    }
    expect(otherGuestDenial([resource]).expected).toBe(false)
  })
})
