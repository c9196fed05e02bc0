#!/usr/bin/env node
// The `initguard` command. The TypeScript sources are compiled to dist/ by `npm ci` (the
// workspace's `prepare` script) or `npm run build`.
import { runCli } from '../dist/main.js'

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
})
