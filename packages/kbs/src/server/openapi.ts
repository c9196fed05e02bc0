/**
 * The OpenAPI 3.1 document of the KBS, served at `GET /openapi.json`. A test checks that it lists
 * exactly the routes the app has.
 *
 * @module
 */

type Json = Readonly<Record<string, unknown>>

const problemResponse = (description: string): Json => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
})
const json = (description: string, schema: Json = { type: 'object' }): Json => ({
  description,
  content: { 'application/json': { schema } },
})
const empty = (description: string): Json => ({ description })
const admin = [{ adminJwt: [] }]
const attested = [{ session: [] }, { attestationToken: [] }]
const pathParam = (name: string): Json => ({
  name,
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-][A-Za-z0-9_.-]*$' },
})
const resourceParams = ['repo', 'type', 'tag'].map(pathParam)
const errors = {
  '400': problemResponse('malformed request'),
  '401': problemResponse('not attested, or a bad token'),
}
/** The admin routes' errors: their 401 is always the admin's token (AdminAuthAccess). */
const adminErrors = {
  '400': errors['400'],
  '401': problemResponse('no valid admin JWT (AdminAuthAccess); never about stored data'),
}
const ref = (schema: string): Json => ({ $ref: `#/components/schemas/${schema}` })

/** The OpenAPI 3.1 document for the routes of `buildKbsApp`. */
export const KBS_OPENAPI: Json = {
  openapi: '3.1.0',
  info: {
    title: 'Initguard KBS',
    version: '0.1.0',
    description:
      "A key broker wire-compatible with Trustee's KBS (RCAR protocol 0.4.0); errors are {type, detail} with Trustee's variant names. An admin call takes a query string only on /kbs/v0/admin/audit and a body only on the resource upload, the workload put and the audit prune; one sent anywhere else, or a body with a Content-Encoding other than identity (never decoded), is refused (400 SerdeError), not ignored; the guest routes (/kbs/v0/auth, /kbs/v0/attest, resource GETs) take no query string, and a resource GET no body (400 SerdeError, audited): this KBS has no plugins or resource policy that read one. More than one Authorization header is refused (401).",
  },
  paths: {
    '/kbs/v0/auth': {
      post: {
        summary: 'Start a handshake: a challenge nonce and the kbs-session-id cookie',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Request' } } },
        },
        responses: {
          '200': json('the challenge', { $ref: '#/components/schemas/Challenge' }),
          '400': errors['400'],
          '429': problemResponse('rate limited'),
        },
      },
    },
    '/kbs/v0/attest': {
      post: {
        summary: 'Send evidence bound to the challenge and the TEE key; get an EAR token',
        security: [{ session: [] }],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Attestation' } } },
        },
        responses: {
          '200': json('the attestation token', {
            type: 'object',
            properties: { token: { type: 'string' } },
            required: ['token'],
          }),
          ...errors,
          '403': problemResponse('no workload accepts this evidence'),
          '429': problemResponse('rate limited'),
        },
      },
    },
    '/kbs/v0/resource/{repo}/{type}/{tag}': {
      get: {
        summary: 'A secret, as a flattened JWE to the TEE key of the token',
        security: attested,
        parameters: resourceParams,
        responses: {
          '200': json('the JWE', { $ref: '#/components/schemas/Jwe' }),
          ...errors,
          '403': problemResponse("not among the workload's resources"),
          '404': problemResponse('no such resource'),
        },
      },
      post: {
        summary: 'Store a secret (raw bytes, any content type), as Trustee',
        security: admin,
        parameters: resourceParams,
        requestBody: {
          required: true,
          content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
        },
        responses: { '200': empty('stored'), ...adminErrors, '413': problemResponse('too large') },
      },
      delete: {
        summary: 'Delete a secret',
        security: admin,
        parameters: resourceParams,
        responses: {
          '200': empty('deleted'),
          ...adminErrors,
          '404': problemResponse('no such resource'),
        },
      },
    },
    '/kbs/v0/admin/resources': {
      get: {
        summary: 'List secrets (paths and sizes, never values)',
        security: admin,
        responses: { '200': json('the list'), '401': adminErrors['401'] },
      },
    },
    '/kbs/v0/admin/workloads': {
      get: {
        summary:
          'List workloads (newest versions; one whose row does not authenticate as unusable, without its definition)',
        security: admin,
        responses: {
          '200': json('the list', {
            type: 'object',
            properties: {
              workloads: {
                type: 'array',
                items: { oneOf: [ref('Workload'), ref('UnusableWorkload')] },
              },
            },
            required: ['workloads'],
            additionalProperties: false,
          }),
          '401': adminErrors['401'],
        },
      },
    },
    '/kbs/v0/admin/workloads/{name}': {
      put: {
        summary:
          'Store a new version of a workload definition (validated); numbered above every stored version, so it also repairs a row that does not authenticate',
        security: admin,
        parameters: [pathParam('name')],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object' } } },
        },
        responses: { '200': json('the stored version', ref('Workload')), ...adminErrors },
      },
      get: {
        summary: 'A workload (newest version)',
        security: admin,
        parameters: [pathParam('name')],
        responses: {
          '200': json('the workload', ref('Workload')),
          ...adminErrors,
          '404': problemResponse('no such workload'),
          '409': json(
            'its newest stored row does not authenticate (ERR_KBS_WORKLOAD_INTEGRITY: written before migration 002-workload-mac, or changed behind the KBS): not used; the stored text is shown, unauthenticated, for review before a put repairs it',
            ref('WorkloadUnusable'),
          ),
        },
      },
      delete: {
        summary: 'Delete a workload',
        security: admin,
        parameters: [pathParam('name')],
        responses: {
          '200': empty('deleted'),
          ...adminErrors,
          '404': problemResponse('no such workload'),
        },
      },
    },
    '/kbs/v0/admin/audit': {
      get: {
        summary:
          'The audit log in commit order: page with after=<the last id returned> (on PostgreSQL ids do not always increase along it)',
        security: admin,
        parameters: [
          { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0 } },
          {
            name: 'limit',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        ],
        responses: {
          '200': json('entries'),
          ...adminErrors,
          '404': problemResponse('after names no entry the log ever listed'),
          '409': problemResponse(
            'after names an entry pruned since (AuditCursorPruned: entries after it may be gone unread; page again from after=0), or one no listing gave yet (AuditCursorAhead)',
          ),
        },
      },
    },
    '/kbs/v0/admin/audit/prune': {
      post: {
        summary:
          "Remove the audit entries up to throughId (archive them first): one transaction with the entry that records it; never the newest entry, nor one younger than [audit] min-retention plus the replicas' clock skew (10 s)",
        security: admin,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['throughId'],
                additionalProperties: false,
                properties: {
                  throughId: { type: 'integer', minimum: 1 },
                  expectedCount: {
                    type: 'integer',
                    minimum: 0,
                    description:
                      'how many entries up to throughId were archived: any other number there refuses the prune (409)',
                  },
                },
              },
            },
          },
        },
        responses: {
          '200': json('what was removed (pruned 0: nothing left to remove, nothing changed)', {
            type: 'object',
            required: ['prunedThroughId', 'pruned'],
            properties: {
              prunedThroughId: { type: 'integer' },
              pruned: { type: 'integer' },
              firstAt: { type: 'string' },
              lastAt: { type: 'string' },
              entryId: { type: 'integer', description: 'the entry that records the prune' },
            },
          }),
          ...adminErrors,
          '409': problemResponse(
            'AuditPruneRefused: the log refuses it (code ERR_KBS_AUDIT_PRUNE_NEWEST, _RETENTION, _CHANGED or _TOO_MANY); nothing changed',
          ),
        },
      },
    },
    '/kbs/v0/admin/signing-keys/rotate': {
      post: {
        summary:
          'Start signing tokens with a new key; the previous ones keep verifying their tokens until they expire, unless revokePrevious (after a leak): then every previous key is deleted, its tokens refused at once on this replica and within 60 s on every other',
        security: admin,
        requestBody: {
          required: false,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                additionalProperties: false,
                properties: { revokePrevious: { type: 'boolean', default: false } },
              },
            },
          },
        },
        responses: {
          '200': json('the new key id, and with revokePrevious the key ids revoked', {
            type: 'object',
            required: ['kid'],
            properties: {
              kid: { type: 'string' },
              revoked: { type: 'array', items: { type: 'string' } },
            },
          }),
          ...adminErrors,
        },
      },
    },
    '/.well-known/jwks.json': {
      get: { summary: 'The token-signing public keys', responses: { '200': json('a JWK set') } },
    },
    '/healthz': { get: { summary: 'The process is alive', responses: { '200': json('ok') } } },
    '/readyz': {
      get: {
        summary: 'The database answers (checked within 2 s): {status: "ready", database: "ok"}',
        responses: { '200': json('ready'), '503': problemResponse('not ready') },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        responses: {
          '200': {
            description: 'text exposition format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/openapi.json': {
      get: { summary: 'This document', responses: { '200': json('OpenAPI 3.1') } },
    },
  },
  components: {
    securitySchemes: {
      adminJwt: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat:
          "JWT (EdDSA or ES256, role admin, aud containing the KBS's admin audience (KBS unless admin-audience is set), exp)",
      },
      attestationToken: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'EAR JWT from /kbs/v0/attest',
      },
      session: { type: 'apiKey', in: 'cookie', name: 'kbs-session-id' },
    },
    schemas: {
      Error: {
        type: 'object',
        properties: { type: { type: 'string', format: 'uri' }, detail: { type: 'string' } },
        required: ['type', 'detail'],
      },
      Request: {
        type: 'object',
        properties: {
          version: { const: '0.4.0' },
          tee: { enum: ['snp', 'tdx', 'sgx'] },
          'extra-params': {},
        },
        required: ['version', 'tee'],
      },
      Challenge: {
        type: 'object',
        properties: { nonce: { type: 'string' }, 'extra-params': { type: 'string' } },
        required: ['nonce', 'extra-params'],
      },
      Attestation: {
        type: 'object',
        properties: {
          'init-data': {
            type: 'object',
            properties: { format: { const: 'toml' }, body: { type: 'string' } },
          },
          'runtime-data': {
            type: 'object',
            properties: { nonce: { type: 'string' }, 'tee-pubkey': { type: 'object' } },
          },
          'tee-evidence': {
            type: 'object',
            properties: { primary_evidence: {}, additional_evidence: { type: 'string' } },
          },
        },
        required: ['runtime-data', 'tee-evidence'],
      },
      Workload: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          version: { type: 'integer', minimum: 1 },
          definition: { type: 'object', description: 'the validated definition, authenticated' },
          updatedAt: { type: 'string', format: 'date-time' },
        },
        required: ['name', 'version', 'definition', 'updatedAt'],
        additionalProperties: false,
      },
      UnusableWorkload: {
        type: 'object',
        description: 'a live workload whose newest stored row does not authenticate: not used',
        properties: {
          name: { type: 'string' },
          version: { type: 'integer' },
          unusable: ref('UnusableReason'),
        },
        required: ['name', 'version', 'unusable'],
        additionalProperties: false,
      },
      UnusableReason: {
        type: 'object',
        properties: {
          code: { const: 'ERR_KBS_WORKLOAD_INTEGRITY' },
          message: { type: 'string' },
          hint: { type: 'string' },
        },
        required: ['code', 'message'],
        additionalProperties: false,
      },
      WorkloadUnusable: {
        type: 'object',
        description:
          'The Error body (type .../errors/WorkloadUnusable) plus the workload, the coded reason, and the definition text exactly as stored. That text is UNAUTHENTICATED (whoever wrote the database may have chosen it) and never used by the KBS: review it against your own copy before you put it again.',
        properties: {
          type: { type: 'string', format: 'uri' },
          detail: { type: 'string' },
          workload: { type: 'string' },
          version: { type: 'integer' },
          unusable: ref('UnusableReason'),
          unauthenticatedDefinition: { type: 'string' },
        },
        required: [
          'type',
          'detail',
          'workload',
          'version',
          'unusable',
          'unauthenticatedDefinition',
        ],
        additionalProperties: false,
      },
      Jwe: {
        type: 'object',
        properties: Object.fromEntries(
          ['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag'].map((k) => [
            k,
            { type: 'string' },
          ]),
        ),
      },
    },
  },
}
