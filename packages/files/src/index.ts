/**
 * @initguard/files: Local files: bounded reads of inputs (a path or standard input) and atomic writes, so nothing is half-written, and tree removal.
 *
 * @module
 */
export {
  DEFAULT_MAX_INPUT_SIZE,
  flushDirectory,
  readInput,
  removeTree,
  writeFileAtomic,
  writeFilesAtomic,
  writeNewFile,
  type FileToWrite,
  type ReadInputOptions,
  type WriteOptions,
} from './local-files.ts'
export { refuseSharedPrivateFile, type PrivateFileStats } from './private-file.ts'
