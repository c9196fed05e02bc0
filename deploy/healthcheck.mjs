// The container image's HEALTHCHECK (Docker, Podman): exit 0 when the KBS answers GET /healthz
// with 200 within 4 s, else 1. The URL is INITGUARD_KBS_HEALTHCHECK_URL (loopback; the KBS's own
// certificate is not checked here: nothing secret is sent or received, and the check runs inside
// the container the KBS serves from).
import { get as httpGet } from 'node:http'
import { get as httpsGet } from 'node:https'

const url = new URL(process.env.INITGUARD_KBS_HEALTHCHECK_URL ?? 'https://127.0.0.1:8443/healthz')
const get = url.protocol === 'http:' ? httpGet : httpsGet
const request = get(url, { rejectUnauthorized: false, timeout: 4000 }, (response) => {
  response.resume()
  process.exit(response.statusCode === 200 ? 0 : 1)
})
request.on('timeout', () => request.destroy(new Error('timed out')))
request.on('error', (error) => {
  process.stderr.write(`healthcheck: ${url.href}: ${error.message}\n`)
  process.exit(1)
})
