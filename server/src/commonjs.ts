/**
 * The CommonJS packages the server needs at start-up, loaded with require() instead of import.
 *
 * An ES module that imports a CommonJS file makes Node scan that file's source for export names
 * (cjs-module-lexer). ws's ESM entry imports five of its files, about 100 KB: long enough for V8
 * to optimise the scanner on a compiler thread, and glibc keeps that thread's few MB of compiler
 * memory for the life of the process. Measured at start-up: 3-5 MB more RSS through import than
 * through require(), on a server whose whole RSS is about 65 MB. require() loads the same code
 * without the scan. Only the values come from here; types are imported from the packages.
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

export const { WebSocketServer } = require('ws') as typeof import('ws')
export const Database = require('better-sqlite3') as typeof import('better-sqlite3')
