import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Worker threads load the compiled dist/ that the global setup keeps current (src/threads/spawn.ts).
    env: { HOLDMAIL_THREADS_FROM_DIST: '1' },
    // An app-level test starts five threads (SMTP, writer, indexer, HTTP, readers) and often a
    // real Postfix, Exim or Chromium; on a loaded two-core machine that alone can take tens of seconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll waits on live events (SSE, the indexer): 1 s by default is tight on a loaded machine
    expect: { poll: { timeout: 10_000, interval: 50 } },
    // Socket tests bind ephemeral ports and share two cores: files run in parallel, tests in a file in order.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
