/**
 * `--collateral` for TDX/SGX quotes: the combined collateral JSON, or Intel PCS's own documents —
 * the TCB info and QE identity response bodies, the PCK and Root CA CRLs (PEM or DER) and the
 * issuer chains (PEM) — as several files or a directory holding them. Each file is told by its
 * content, never its name.
 *
 * @module
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { readInput } from '@initguard/files'
import { MalformedInputError, UnavailableError, UsageError } from '@initguard/core'
import { collateralFromPcs, parseCollateralJson, type DcapCollateral } from '@initguard/tdx'
import type { CliIo } from '../cli-io.ts'
import { identifyFile } from './file-kind.ts'

/** One file given to `--collateral`. */
interface CollateralFile {
  readonly path: string
  readonly bytes: Uint8Array
}

/** The files named by `--collateral`: each file as given, each directory's regular files. */
async function collateralFiles(paths: readonly string[], io: CliIo): Promise<CollateralFile[]> {
  const files: CollateralFile[] = []
  for (const path of paths) {
    const isDirectory = path !== '-' && (await stat(path).catch(() => undefined))?.isDirectory()
    const members =
      isDirectory === true
        ? (await readdir(path, { withFileTypes: true }))
            .filter((entry) => entry.isFile())
            .map((entry) => join(path, entry.name))
            .sort()
        : [path]
    for (const member of members) {
      files.push({
        path: member,
        bytes: await readInput(member, { what: 'collateral', stdin: io.stdin }),
      })
    }
  }
  return files
}

/** The pieces of PCS collateral, by role; each given at most once. */
interface Pieces {
  tcbInfo?: CollateralFile
  qeIdentity?: CollateralFile
  rootCaCrl?: CollateralFile
  /** PCK CRLs and PCK CA issuer chains, keyed by the CA's common name. */
  readonly pckCrls: Map<string, CollateralFile>
  readonly pckChains: Map<string, CollateralFile>
  tcbSigningChain?: CollateralFile
  combined?: CollateralFile
}

function once(
  current: CollateralFile | undefined,
  file: CollateralFile,
  role: string,
): CollateralFile {
  if (current !== undefined) {
    throw new UsageError(
      'ERR_COLLATERAL_DUPLICATE',
      `--collateral: ${current.path} and ${file.path} are both the ${role}; give one`,
      { details: { role, files: [current.path, file.path] } },
    )
  }
  return file
}

/** Put `file` where it belongs among the pieces; false when it is not collateral. */
function place(pieces: Pieces, file: CollateralFile): boolean {
  const identified = identifyFile(file.bytes)
  const kind = identified?.kind
  const cn = identified?.commonName ?? ''
  const chain = (identified?.certificates ?? 0) > 1
  if (kind === 'dcap-collateral-json')
    pieces.combined = once(pieces.combined, file, 'collateral JSON')
  else if (kind === 'pcs-tcb-info') pieces.tcbInfo = once(pieces.tcbInfo, file, 'TCB info')
  else if (kind === 'pcs-qe-identity')
    pieces.qeIdentity = once(pieces.qeIdentity, file, 'QE identity')
  else if (kind === 'intel-crl' && cn === 'Intel SGX Root CA')
    pieces.rootCaCrl = once(pieces.rootCaCrl, file, 'Root CA CRL')
  else if (kind === 'intel-crl')
    pieces.pckCrls.set(cn, once(pieces.pckCrls.get(cn), file, `CRL of the ${cn}`))
  else if (kind === 'intel-certificate' && chain && cn === 'Intel SGX TCB Signing')
    pieces.tcbSigningChain = once(pieces.tcbSigningChain, file, 'TCB Signing issuer chain')
  else if (kind === 'intel-certificate' && chain && PCK_CA.test(cn))
    pieces.pckChains.set(cn, once(pieces.pckChains.get(cn), file, `issuer chain of the ${cn}`))
  else return false
  return true
}

const PCK_CA = /^Intel SGX PCK (Platform|Processor) CA$/

function sortPieces(files: readonly CollateralFile[], fromDirectory: ReadonlySet<string>): Pieces {
  const pieces: Pieces = { pckCrls: new Map(), pckChains: new Map() }
  for (const file of files) {
    if (place(pieces, file)) continue
    // Other files in a directory (the quote, a README) are not collateral and are left alone;
    // a file named on its own must be collateral.
    if (fromDirectory.has(file.path)) continue
    const identified = identifyFile(file.bytes)
    throw new MalformedInputError(
      'ERR_COLLATERAL_FILE',
      `--collateral ${file.path} is ${identified?.what ?? 'not a collateral document'}`,
      {
        details: {
          path: file.path,
          ...(identified === undefined ? {} : { file_kind: identified.kind }),
        },
        hint: "give the collateral JSON, or Intel PCS's TCB info and QE identity JSON, the PCK and Root CA CRLs and their issuer chains (PEM, signer first, then the root)",
      },
    )
  }
  return pieces
}

/**
 * The collateral that `--collateral` names. `pckCa` is the common name of the CA that issued the
 * quote's PCK certificate, when known: it picks the PCK CRL when both are given.
 *
 * @throws {@link UsageError} `ERR_COLLATERAL_DUPLICATE`, `ERR_COLLATERAL_MIXED`;
 *   {@link MalformedInputError} `ERR_COLLATERAL_FILE` (a file that is not collateral);
 *   {@link UnavailableError} `ERR_COLLATERAL_INCOMPLETE` naming every missing piece.
 */
export async function loadCollateralFiles(
  paths: readonly string[],
  io: CliIo,
  pckCa: string | undefined,
): Promise<DcapCollateral> {
  const files = await collateralFiles(paths, io)
  const named = new Set(paths)
  const pieces = sortPieces(files, new Set(files.map((f) => f.path).filter((p) => !named.has(p))))
  const separate = [
    pieces.tcbInfo,
    pieces.qeIdentity,
    pieces.rootCaCrl,
    pieces.tcbSigningChain,
    ...pieces.pckCrls.values(),
    ...pieces.pckChains.values(),
  ].filter((f) => f !== undefined)
  if (pieces.combined !== undefined) {
    if (separate.length > 0) {
      throw new UsageError(
        'ERR_COLLATERAL_MIXED',
        `--collateral: ${pieces.combined.path} is complete collateral JSON, but ${separate.map((f) => f.path).join(', ')} ${separate.length === 1 ? 'is' : 'are'} given too`,
        { hint: 'give either the collateral JSON or the separate PCS documents, not both' },
      )
    }
    return parseCollateralJson(pieces.combined.bytes)
  }
  const pckCaName =
    pckCa ?? (pieces.pckCrls.size === 1 ? [...pieces.pckCrls.keys()][0] : undefined) ?? ''
  const missing: string[] = []
  const need = (file: CollateralFile | undefined, what: string): Uint8Array => {
    if (file === undefined) missing.push(what)
    return file?.bytes ?? new Uint8Array()
  }
  const pckCaText = pckCaName || 'PCK CA'
  const tcbInfo = need(pieces.tcbInfo, 'the TCB info JSON (PCS …/tcb?fmspc=…)')
  const qeIdentity = need(pieces.qeIdentity, 'the QE identity JSON (PCS …/qe/identity)')
  const tcbChain = need(
    pieces.tcbSigningChain,
    'the TCB Signing issuer chain (PEM: Intel SGX TCB Signing, Intel SGX Root CA)',
  )
  const pckCrl = need(pieces.pckCrls.get(pckCaName), `the CRL of the ${pckCaText}`)
  const pckChain = need(
    pieces.pckChains.get(pckCaName),
    `the issuer chain of the ${pckCaText} (PEM: the CA, Intel SGX Root CA)`,
  )
  const rootCaCrl = need(pieces.rootCaCrl, 'the Intel SGX Root CA CRL')
  if (missing.length > 0) {
    throw new UnavailableError(
      'ERR_COLLATERAL_INCOMPLETE',
      `--collateral lacks ${missing.join('; ')}`,
      {
        details: { missing },
        hint: 'add the missing documents to --collateral (files or a directory), or give the combined collateral JSON',
      },
    )
  }
  const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
  return collateralFromPcs({
    tcbInfo: { body: tcbInfo, issuerChain: text(tcbChain) },
    qeIdentity: { body: qeIdentity, issuerChain: text(tcbChain) },
    pckCrl: { body: pckCrl, issuerChain: text(pckChain) },
    rootCaCrl,
  })
}
