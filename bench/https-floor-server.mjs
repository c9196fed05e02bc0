// The HTTPS floor for the RCAR benchmark (bench/kbs-https-floor.ts): bare Fastify 5 over HTTPS,
// no logging, no plugins, answering the three requests of a handshake with the bodies a real KBS
// answered in the same run. Plain JavaScript run by bare `node`, as the compiled KBS is, so no
// loader sits in the process whose CPU time is measured.
//
// Usage: node https-floor-server.mjs CERT.pem KEY.pem MESSAGES.json
// MESSAGES.json: {"cookie", "challenge", "token", "resource"} (the last three as the KBS sent them).
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'

const [certFile, keyFile, messagesFile] = process.argv.slice(2)
if (certFile === undefined || keyFile === undefined || messagesFile === undefined) {
  console.error('usage: https-floor-server.mjs CERT.pem KEY.pem MESSAGES.json')
  process.exit(2)
}
const messages = JSON.parse(readFileSync(messagesFile, 'utf8'))
// Parsed once, serialised per reply, as the KBS does with the objects it answers.
const challenge = JSON.parse(messages.challenge)
const token = JSON.parse(messages.token)
const resource = JSON.parse(messages.resource)
const app = Fastify({
  logger: false,
  // The KBS accepts evidence this large; Fastify's default limit (1 MiB) would do too.
  bodyLimit: 1024 * 1024,
  https: { cert: readFileSync(certFile), key: readFileSync(keyFile) },
})
app.post('/kbs/v0/auth', (_request, reply) => {
  void reply.header('set-cookie', messages.cookie).send(challenge)
})
app.post('/kbs/v0/attest', (_request, reply) => {
  void reply.send(token)
})
app.get('/kbs/v0/resource/*', (_request, reply) => {
  void reply.send(resource)
})
const url = await app.listen({ host: '127.0.0.1', port: 0 })
console.error(`listening on ${url}`)
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
