/**
 * One request to the KBS under fuzzing, and what counts as its failure: a 5xx other than 503, or
 * a connection the server broke. A request the client itself refuses to send (a header or method
 * that is not valid HTTP) is no failure of the server's.
 *
 * @module
 */

export interface RawRequest {
  readonly method?: unknown
  readonly path?: unknown
  readonly headers?: unknown
  readonly body?: unknown
}

/** Send one request; throws (a failure) on a 5xx other than 503 or a broken connection. */
export async function send(
  base: string,
  request: RawRequest,
): Promise<{ status: number; text: string; cookie: string }> {
  const method = typeof request.method === 'string' ? request.method : 'GET'
  const path = typeof request.path === 'string' ? request.path : '/'
  const headers =
    typeof request.headers === 'object' && request.headers !== null ? request.headers : {}
  const body =
    request.body === undefined || method === 'GET' || method === 'HEAD'
      ? undefined
      : typeof request.body === 'string'
        ? request.body
        : JSON.stringify(request.body)
  let response: Response
  try {
    response = await fetch(`${base}${path.startsWith('/') ? path : `/${path}`}`, {
      method,
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])),
      ...(body === undefined ? {} : { body }),
    })
  } catch (error) {
    // fetch refuses to send a malformed header or method itself (no cause): not the server's doing.
    if (error instanceof TypeError && error.cause === undefined)
      return { status: 0, text: '', cookie: '' }
    if (error instanceof TypeError && /URL|url|InvalidArgument/.test(String(error.cause)))
      return { status: 0, text: '', cookie: '' }
    const cause: unknown = error instanceof Error ? (error.cause ?? error) : error
    throw new Error(`${method} ${path}: the connection failed: ${String(cause)}`, { cause: error })
  }
  const text = await response.text()
  if (response.status >= 500 && response.status !== 503) {
    throw Object.assign(
      new Error(`${method} ${path}: HTTP ${String(response.status)}: ${text.slice(0, 300)}`),
      {
        fuzzKey: `HTTP ${String(response.status)} ${method} ${path.split('?')[0] ?? ''}`,
      },
    )
  }
  return {
    status: response.status,
    text,
    cookie: response.headers.get('set-cookie')?.split(';')[0] ?? '',
  }
}
