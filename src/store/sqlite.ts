import type BetterSqlite3 from 'better-sqlite3'
import { createRequire } from 'node:module'

// Which build of better-sqlite3 this Node loads. better-sqlite3 12 wraps its objects in Node's
// node::ObjectWrap, which on Node 24 (headers 24.19+) registers an environment cleanup hook per
// object and removes it when the object is garbage collected: a statement collected when no
// context is entered aborts the process ("Assertion failed: (env) != nullptr", nodejs/node#65446).
// better-sqlite3 13 is built on Node-API without that wrapper and ships its prebuilt binaries in
// the package, but needs Node 22 or newer; so Node 22+ loads 13 (the optional dependency
// "better-sqlite3-napi", which npm skips on Node 20) and Node 20 keeps 12. The API is the same.
const require = createRequire(import.meta.url)
const NODE_MAJOR = Number(process.versions.node.split('.')[0])

function load(): typeof BetterSqlite3 {
  if (NODE_MAJOR >= 22) {
    try {
      return require('better-sqlite3-napi') as typeof BetterSqlite3
    } catch {
      // not installed (an install without optional dependencies): 12 works until a statement is collected
    }
  }
  return require('better-sqlite3') as typeof BetterSqlite3
}

export const Database = load()
export type Database = BetterSqlite3.Database
