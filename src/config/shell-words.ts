/** POSIX shell word splitting without expansions, as Python's shlex.split. */
export function shellWords(text: string): string[] {
  const words: string[] = []
  let word: string | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "'") {
      const close = text.indexOf("'", i + 1)
      if (close === -1) throw new Error(`unterminated quote in: ${text}`)
      word = (word ?? '') + text.slice(i + 1, close)
      i = close
    } else if (c === '"') {
      word ??= ''
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1]!)) i++
        word += text[i]
      }
      if (i >= text.length) throw new Error(`unterminated quote in: ${text}`)
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i]
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else word = (word ?? '') + c
  }
  if (word !== undefined) words.push(word)
  return words
}
