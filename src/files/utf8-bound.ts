/**
 * The most bytes `text` can take in UTF-8, without scanning it: three per UTF-16 code unit (a
 * surrogate pair, two units, takes four). Enough to tell whether it fits a buffer before copying it.
 */
export function utf8BytesAtMost(text: string): number {
  return text.length * 3
}
