// The benchmarks' seeded PRNG (mulberry32): the same numbers for a given seed on every run, so
// generated data and cached seeds are reproducible. No imports, so scripts that run without a
// build of holdmail can use it too.
export function mulberry32(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
