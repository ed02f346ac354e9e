import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // expect.poll waits on live events (SSE, the indexer): 1 s by default is tight on a loaded machine
    expect: { poll: { timeout: 10_000, interval: 50 } },
    // Socket tests bind ephemeral ports and share two cores: files run in parallel, tests in a file in order.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
