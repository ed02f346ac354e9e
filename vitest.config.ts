import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Socket tests bind ephemeral ports and share two cores: files run in parallel, tests in a file in order.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
