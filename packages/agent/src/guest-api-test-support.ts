/**
 * Test support for the guest API: init-data documents naming a KBS (with the certificate pinned),
 * and plain requests over loopback HTTP or a Unix socket.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'

/**
 * An init-data document whose aa.toml and cdh.toml name `url` and pin `certPem`; `tag` varies it;
 * `cdhExtra` is appended to cdh.toml (e.g. an `[image]` table).
 */
export function kbsInitdataToml(
  url: string,
  certPem: string | undefined,
  tag: string,
  cdhExtra = '',
): string {
  const cert = (key: string): string =>
    certPem === undefined ? '' : `${key} = """\n${certPem.trim()}\n"""\n`
  return [
    'version = "0.1.0"',
    'algorithm = "sha384"',
    '',
    '[data]',
    `"aa.toml" = '''`,
    '[token_configs.kbs]',
    `url = "${url}"`,
    `${cert('cert')}'''`,
    `"cdh.toml" = '''`,
    '[kbc]',
    'name = "cc_kbc"',
    `url = "${url}"`,
    `${cert('kbs_cert')}# ${tag}`,
    `${cdhExtra}'''`,
    '',
  ].join('\n')
}

/** A response as the tests read it. */
export interface TestResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  /** The body as JSON (throws when it is not). */
  json(): Record<string, unknown>
}

/** GET `path` from the guest API at `base` (`http://host:port`) or over the Unix socket `socket`. */
export function get(
  target: { base: string } | { socket: string },
  path: string,
): Promise<TestResponse> {
  // The path goes out as written (no URL normalisation, which would resolve %2e%2e itself).
  const url = new URL('base' in target ? target.base : 'http://localhost')
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        method: 'GET',
        path,
        ...('socket' in target
          ? { socketPath: target.socket }
          : { host: url.hostname, port: url.port }),
      },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => {
          const body = Buffer.concat(chunks)
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            json: () => JSON.parse(body.toString('utf8')) as Record<string, unknown>,
          })
        })
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.end()
  })
}
