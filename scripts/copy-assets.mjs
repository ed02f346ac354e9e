// Copies the non-TypeScript files the server reads at run time (SQL migrations, the worker
// bootstrap) next to the build.
import { copyFileSync, cpSync, mkdirSync } from 'node:fs'
mkdirSync('dist/store/migrations', { recursive: true })
cpSync('src/store/migrations', 'dist/store/migrations', { recursive: true })
mkdirSync('dist/threads', { recursive: true })
copyFileSync('src/threads/boot.mjs', 'dist/threads/boot.mjs')
