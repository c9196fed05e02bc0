/**
 * `initguard kbs serve`: run the key broker (HTTPS by default) until SIGINT or SIGTERM.
 *
 * @module
 */
import type { Command, StringOptionSpec } from '../command.ts'
import { PATH_VALUE, freeValue, type OptionValue } from '../option-values.ts'
import { ADMIN_AUDIENCE_VALUE } from './kbs-option-values.ts'

/** `--amd-crl KIND/PRODUCT=FILE` (checked strictly by the server configuration). */
export const AMD_CRL_VALUE: OptionValue<string> = freeValue(
  'KIND/PRODUCT=FILE',
  'vcek/Milan=milan-vcek.crl',
)
/** `--listen HOST:PORT` (parsed strictly by the server configuration). */
export const LISTEN_VALUE: OptionValue<string> = freeValue('HOST:PORT', '127.0.0.1:8443')
/** `--database sqlite|postgres://…` (checked, and shown redacted, by the server configuration). */
export const DATABASE_VALUE: OptionValue<string> = freeValue(
  'sqlite or a postgres:// URL',
  'postgres://kbs:PASSWORD@db:5432/kbs',
)
const path = (help: string, valueName = 'FILE'): StringOptionSpec => ({
  type: 'string',
  value: PATH_VALUE,
  valueName,
  help,
})

export const kbsServeCommand: Command = {
  name: 'serve',
  summary: 'Run the key broker (Trustee-compatible RCAR 0.4.0 over HTTPS) until stopped.',
  usage: '--data-dir DIR --listen HOST:PORT --admin-public-key FILE',
  description: [
    'HTTPS by default: with --tls-cert and --tls-key those files, else a self-signed P-256',
    'certificate generated on first run in DIR/tls (and reused); its SPKI pin is printed for',
    'aa.toml/cdh.toml and `initguard kbs admin --ca DIR/tls/kbs-cert.pem`. Plain HTTP only with',
    "--insecure-http (logged as a warning). --trust-sim DIR accepts the TEE simulator's evidence",
    '(then every token and log line says simulated). --admin-audience AUD binds admin tokens to',
    "this KBS (their aud must contain it; default Trustee's KBS): give every KBS that shares an",
    'admin key its own, and `kbs admin` the same --admin-audience. A --config FILE (JSON or TOML) can hold',
    'everything the flags do, plus limits; flags win. Logs are JSON lines on standard output.',
    '',
    "Revocation: every SEV-SNP chain is checked against AMD's CRL of its product (VCEK chains",
    'against /vcek/v1/PRODUCT/crl, VLEK chains against /vlek/v1/PRODUCT/crl), fetched from AMD KDS',
    '(cached in DIR) or, air-gapped, given with --amd-crl; a CRL that cannot be had is a 503, a',
    "stale one or a revoked ASK/ASVK/VCEK/VLEK a refusal. Simulated chains use the simulator's CRL.",
    '',
    'Storage: SQLite in DIR by default. --database postgres://USER:PASSWORD@HOST:PORT/DB (or',
    'INITGUARD_KBS_DATABASE, or database = "…" in --config, with a [postgres] pool section) shares',
    'one PostgreSQL database between replicas: migrations run once under an advisory lock, and the',
    'master key must then be given (--master-key-file or INITGUARD_KBS_MASTER_KEY), the same for',
    'every replica; DIR still holds the TLS identity and caches. The password is never logged.',
    'A remote server needs sslmode=verify-full (or verify-ca with sslrootcert) in the URL, unless',
    '--database-insecure-transport (logged as a warning); loopback and Unix sockets need neither.',
    '',
    'Example: initguard kbs serve --data-dir ./kbs --listen 127.0.0.1:8443 --admin-public-key admin.pub --trust-sim ./sim',
  ].join('\n'),
  options: {
    'data-dir': path(
      'the KBS data directory (SQLite database, master key, TLS identity, caches); created 0700',
      'DIR',
    ),
    listen: {
      type: 'string',
      value: LISTEN_VALUE,
      valueName: 'HOST:PORT',
      help: 'where to listen, e.g. 127.0.0.1:8443 or [::1]:8443',
    },
    'tls-cert': path('the TLS certificate (PEM); with --tls-key'),
    'tls-key': path('the TLS private key (PEM); with --tls-cert'),
    'admin-public-key': {
      ...path('an admin public key (PEM, Ed25519 or P-256); at least one'),
      multiple: true,
    },
    'admin-audience': {
      type: 'string',
      value: ADMIN_AUDIENCE_VALUE,
      valueName: 'AUD',
      help: "the audience (aud) admin tokens must contain, e.g. https://kbs.prod.example:8443; default KBS (Trustee's, shared by every KBS)",
    },
    'trust-sim': path(
      'trust the TEE simulator in DIR (its public roots and collateral): labs and CI only',
      'DIR',
    ),
    collateral: path('DCAP collateral (TDX/SGX) from a file instead of Intel PCS'),
    'amd-crl': {
      type: 'string',
      value: AMD_CRL_VALUE,
      valueName: 'KIND/PRODUCT=FILE',
      multiple: true,
      help: 'an AMD CRL (DER, as KDS serves /KIND/v1/PRODUCT/crl) instead of fetching it from AMD KDS (air-gapped); KIND/PRODUCT: vcek/Milan, vcek/Genoa, vcek/Turin, vlek/Milan, vlek/Genoa, vlek/Turin; once one is given, a chain without its CRL file is refused',
    },
    'master-key-file': path(
      'the at-rest master key (32 bytes raw, hex or base64; mode 0600) instead of DATA-DIR/master.key, which is generated on first run; or set INITGUARD_KBS_MASTER_KEY',
    ),
    database: {
      type: 'string',
      value: DATABASE_VALUE,
      valueName: 'URL',
      help: 'sqlite (the default, in DATA-DIR) or postgres://USER:PASSWORD@HOST:PORT/DB shared by replicas; or set INITGUARD_KBS_DATABASE',
    },
    'database-insecure-transport': {
      type: 'boolean',
      help: 'allow a remote PostgreSQL without verified TLS (sslmode=verify-full); logged as a warning',
    },
    config: path('a config file (.json or .toml) with any of these settings and the limits'),
    'insecure-http': {
      type: 'boolean',
      help: 'serve plain HTTP (cookies and tokens unencrypted); logged as a warning',
    },
  },
  async run(args, io) {
    // Loaded on use: only `kbs serve` needs the server, its storage and the native SQLite module.
    const { runKbsServe } = await import('./kbs-serve-run.ts')
    return runKbsServe(args, io)
  },
}
