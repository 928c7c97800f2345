/** Where a listener binds. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

/**
 * `host:port`, `[v6-address]:port` or `:port` (loopback) as a ListenAddress;
 * undefined when the text is none of these or the port is past 65535.
 */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(text)
  if (!m) return undefined
  const port = Number(m[3])
  if (port > 65535) return undefined
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port }
}
