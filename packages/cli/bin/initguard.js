#!/usr/bin/env node
// The `initguard` command. The TypeScript sources are compiled to dist/ by `npm ci` (the
// workspace's `prepare` script) or `npm run build`.
import { runMain } from '../dist/main.js'

await runMain()
