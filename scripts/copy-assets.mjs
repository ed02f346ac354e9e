// Copies the non-TypeScript files the server reads at run time (SQL migrations) next to the build.
import { cpSync, mkdirSync } from 'node:fs'
mkdirSync('dist/store/migrations', { recursive: true })
cpSync('src/store/migrations', 'dist/store/migrations', { recursive: true })
