// Hostnames are unique across accounts, but each account commits on its own: two accounts
// claiming one free hostname at once would both find it free and both store it (the index
// then names the later one). Claims of overlapping hostnames therefore run one after the
// other; claims of different hostnames, in any accounts, still run side by side.
export class HostnameClaims {
  /** The claim that holds each hostname now, or last asked for it. */
  private readonly tails = new Map<string, Promise<void>>()

  /**
   * Runs `claim` once every earlier claim of any of `hostnames` has ended. All the names are
   * taken at once, in call order, so two claims never wait on each other.
   */
  async run<T> (hostnames: Iterable<string>, claim: () => Promise<T>): Promise<T> {
    const names = [...new Set(hostnames)]
    const earlier = names.map(name => this.tails.get(name)).filter(tail => tail !== undefined)
    const { promise: ended, resolve } = Promise.withResolvers<void>()
    for (const name of names) this.tails.set(name, ended)
    try {
      await Promise.all(earlier)
      return await claim()
    } finally {
      resolve()
      for (const name of names) if (this.tails.get(name) === ended) this.tails.delete(name)
    }
  }
}
