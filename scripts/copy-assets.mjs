// Copies the non-TypeScript files the server reads at run time (SQL migrations, the worker
// bootstrap) next to the build.
import { copyFileSync, cpSync, mkdirSync } from 'node:fs'
mkdirSync('dist/store/migrations', { recursive: true })
cpSync('src/store/migrations', 'dist/store/migrations', { recursive: true })
copyFileSync('src/store/worker-boot.mjs', 'dist/store/worker-boot.mjs')
