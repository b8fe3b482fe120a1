// Percentiles and a summary row for benchmark samples (milliseconds).
export function percentile (samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] as number
}

export interface Summary { n: number, p50: number, p99: number, max: number }

export function summarize (samples: number[]): Summary {
  const round = (x: number): number => Math.round(x * 10) / 10
  return { n: samples.length, p50: round(percentile(samples, 50)), p99: round(percentile(samples, 99)), max: round(Math.max(...samples)) }
}
