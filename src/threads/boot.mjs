// Starts a worker entry module. Under the test runner the entry is TypeScript: register tsx first
// (a worker's execArgv cannot carry --import loaders on Node 20). Built code loads .js directly.
import { workerData } from 'node:worker_threads'

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api')
  register()
}
await import(workerData.entry)
