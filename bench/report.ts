/** Shared printing for the benchmarks. */

/** The q-quantile of an ascending-sorted sample. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

export function printMemory(indent: string): void {
  const m = process.memoryUsage()
  const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MiB`
  console.log(`${indent}memory: rss ${mib(m.rss)}, heap used ${mib(m.heapUsed)} of ${mib(m.heapTotal)}, external ${mib(m.external)}`)
}
