/**
 * Unpacking a 1 GiB (uncompressed) gzip layer with `unpackLayer` against `tar -xzf` of the same
 * layer, in the same run: throughput as a ratio (goal ≥ 0.5) and the peak RSS of our unpack (goal
 * < 100 MB). Our unpack runs in a child process on the built `dist` (no TypeScript loader), so
 * only its own memory counts; it reports `process.resourceUsage().maxRSS` when done.
 *
 * The layer is generated in a temporary directory and removed afterwards: four large files and
 * a few thousand small ones, made of pseudo-random 8 KiB blocks each written twice in a row, so
 * gzip halves it without it being trivial. Environment: BENCH_UNPACK_RUNS (default 1; each run
 * unpacks with both, alternating).
 */
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { createGzip } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { median, type BenchResult, type JobBenchmark } from './harness.ts'
import { benchNumber } from './bench-env.ts'

const LAYER_SIZE = 1024 ** 3
const LARGE_FILES = 4
const LARGE_FILE_SIZE = 224 * 1024 ** 2
const BLOCK = 8192
const RSS_GOAL_MB = 100
const RATIO_GOAL = 0.5
const unpackModule = fileURLToPath(
  new URL('../packages/oci/dist/oci-layer-unpack.js', import.meta.url),
)

/** A ustar header for a regular file or a directory. */
function header(name: string, size: number, type: '0' | '5'): Buffer {
  const block = Buffer.alloc(512)
  block.write(name, 0, 100)
  block.write(type === '5' ? '0000755\0' : '0000644\0', 100)
  block.write('0000000\0', 108)
  block.write('0000000\0', 116)
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124)
  block.write('00000000000\0', 136)
  block.write(type, 156)
  block.write('ustar\0', 257)
  block.write('00', 263)
  block.fill(0x20, 148, 156)
  const sum = block.reduce((total, byte) => total + byte, 0)
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148)
  return block
}

/** The layer's tar, in pieces: a 1 MiB random pool cut into 8 KiB blocks, each repeated once. */
function* layerTar(): Generator<Buffer> {
  const pool = randomBytes(1024 * 1024)
  let seed = 0x2545f491
  const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0)
  const contents = (size: number): Buffer => {
    const out = Buffer.allocUnsafe(size)
    for (let at = 0; at < size; at += 2 * BLOCK) {
      const start = next() % (pool.length - BLOCK)
      const block = pool.subarray(start, start + BLOCK)
      block.copy(out, at)
      if (at + BLOCK < size) block.copy(out, at + BLOCK)
    }
    return out
  }
  const padding = (size: number): Buffer => Buffer.alloc((512 - (size % 512)) % 512)
  yield header('large/', 0, '5')
  let total = 0
  for (let i = 0; i < LARGE_FILES; i++) {
    yield header(`large/file-${i}.bin`, LARGE_FILE_SIZE, '0')
    for (let at = 0; at < LARGE_FILE_SIZE; at += 4 * 1024 * 1024) yield contents(4 * 1024 * 1024)
    total += LARGE_FILE_SIZE
  }
  for (let n = 0; total < LAYER_SIZE; n++) {
    if (n % 250 === 0) yield header(`small/${n / 250}/`, 0, '5')
    const size = Math.min(1 + (next() % 32768), LAYER_SIZE - total)
    yield header(`small/${Math.floor(n / 250)}/file-${n}`, size, '0')
    yield contents(size)
    yield padding(size)
    total += size
  }
  yield Buffer.alloc(1024)
}

/** Run a command; resolves with its standard output and wall time once it exits with 0. */
function run(command: string, args: readonly string[]): Promise<{ stdout: string; ms: number }> {
  const start = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
    child.on('error', reject)
    child.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      if (code === 0) resolve({ stdout, ms })
      else reject(new Error(`${command} exited with ${String(code)}`))
    })
  })
}

const child = `
const { unpackLayer } = await import(process.argv[1])
const result = await unpackLayer({ path: process.argv[2] }, 'application/vnd.oci.image.layer.v1.tar+gzip', process.argv[3], { maxUnpackedSize: 2 * 1024 ** 3 })
console.log(JSON.stringify({ unpackedSize: result.unpackedSize, files: result.files, maxRssKiB: process.resourceUsage().maxRSS }))
`

async function unpackJob(): Promise<BenchResult> {
  const runs = benchNumber('BENCH_UNPACK_RUNS', 1, { integer: true, min: 1 })
  const work = await mkdtemp(join(tmpdir(), 'initguard-bench-unpack-'))
  try {
    const layer = join(work, 'layer.tar.gz')
    await pipeline(layerTar(), createGzip({ level: 1 }), createWriteStream(layer))
    const ours: number[] = []
    const tars: number[] = []
    const rss: number[] = []
    let unpackedSize = 0
    for (let round = 0; round < runs; round++) {
      const tarDest = join(work, 'tar')
      await mkdir(tarDest)
      tars.push((await run('tar', ['-xzf', layer, '-C', tarDest])).ms)
      await rm(tarDest, { recursive: true })
      const ourDest = join(work, 'ours')
      await mkdir(ourDest)
      const { stdout, ms } = await run(process.execPath, [
        '--input-type=module',
        '--eval',
        child,
        unpackModule,
        layer,
        ourDest,
      ])
      await rm(ourDest, { recursive: true })
      const report = JSON.parse(stdout) as { unpackedSize: number; maxRssKiB: number }
      ours.push(ms)
      rss.push((report.maxRssKiB * 1024) / 1e6)
      unpackedSize = report.unpackedSize
    }
    const mbPerSecond = (ms: number): number => unpackedSize / 1024 ** 2 / (ms / 1000)
    const ratios = ours.map((ms, i) => (tars[i] ?? 0) / ms)
    const ratio = Math.round(median(ratios) * 1000) / 1000
    const peak = Math.round(Math.max(...rss) * 10) / 10
    return {
      name: 'unpack 1 GiB layer (gzip, streaming)',
      unit: 'MB/s',
      value: Math.round(mbPerSecond(median(ours))),
      baseline: 'tar -xzf',
      baseline_value: Math.round(mbPerSecond(median(tars))),
      ratio,
      goal: RATIO_GOAL,
      met: ratio >= RATIO_GOAL,
      runs,
      extra: [
        {
          name: 'peak RSS of our unpack (child process)',
          unit: 'MB',
          value: peak,
          below: RSS_GOAL_MB,
          met: peak < RSS_GOAL_MB,
        },
      ],
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

export const benchmarks: readonly JobBenchmark[] = [
  { name: 'unpack 1 GiB layer (gzip, streaming)', job: unpackJob },
]
