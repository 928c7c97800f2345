/** Turns one line in a log file's encoding into UTF-8 bytes. */
export type LineTranscoder = (line: Buffer) => Buffer

const UTF8_NAMES = new Set(['auto', 'utf-8', 'utf8', 'u8', 'utf', 'cp65001'])
// Python's latin-1 maps every byte to the code point of the same value; the
// WHATWG label 'latin1' would mean windows-1252, which differs in 0x80-0x9f.
const LATIN1_NAMES = new Set(['latin-1', 'latin1', 'iso-8859-1', 'iso8859-1', '8859', 'cp819', 'l1', 'iso-ir-100'])

/**
 * The transcoder for fail2ban's `logencoding`: undefined where lines are
 * already UTF-8 ('auto' means UTF-8 here; invalid bytes are then kept as they
 * are), latin-1 exactly as Python decodes it, and any other encoding node's
 * TextDecoder knows (Python spellings such as `iso8859_15` or `cp1251` too).
 * Throws on an unknown encoding and on UTF-16/32, whose bytes cannot be cut
 * into lines at 0x0a before decoding.
 */
export function lineTranscoder(encoding: string): LineTranscoder | undefined {
  const name = encoding.trim().toLowerCase().replaceAll('_', '-')
  if (UTF8_NAMES.has(name)) return undefined
  if (LATIN1_NAMES.has(name)) return fromLatin1
  let decoder: TextDecoder
  try {
    decoder = new TextDecoder(name)
  } catch {
    throw new Error(`logencoding '${encoding}' is not an encoding this build of node can decode`)
  }
  if (decoder.encoding === 'utf-8') return undefined
  if (decoder.encoding.startsWith('utf-16')) {
    throw new Error(`logencoding '${encoding}' is not supported: its lines cannot be found before decoding`)
  }
  return (line) => (isAscii(line) ? line : Buffer.from(decoder.decode(line), 'utf8'))
}

function fromLatin1(line: Buffer): Buffer {
  return isAscii(line) ? line : Buffer.from(line.toString('latin1'), 'utf8')
}

function isAscii(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) if (line[i]! >= 0x80) return false
  return true
}
