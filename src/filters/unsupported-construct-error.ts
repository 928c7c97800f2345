/**
 * A fail2ban regex that banstream refuses to compile. RE2 matches in linear
 * time because it lacks backtracking features (lookaround, backreferences,
 * conditionals, atomic groups); rather than approximate such a regex and
 * silently match a different language, the filter is refused when it is
 * loaded, naming where it came from so the operator can rewrite it.
 */
export class UnsupportedConstructError extends Error {
  readonly code = 'BANSTREAM_ERR_UNSUPPORTED_REGEX'

  constructor(
    /** What was refused, e.g. `lookahead (?!` or `backreference \1`. */
    readonly construct: string,
    /** The regex as the operator wrote it. */
    readonly pattern: string,
    /** The file the regex came from, e.g. `filter.d/sshd.conf`. */
    readonly file?: string,
    /** The option the regex came from, e.g. `failregex`. */
    readonly option?: string,
  ) {
    super(formatMessage(construct, pattern, file, option))
    this.name = 'UnsupportedConstructError'
  }

  /** The same refusal, placed in the file and option it was read from (the compiler does not know them). */
  withContext(file: string, option: string): UnsupportedConstructError {
    return new UnsupportedConstructError(this.construct, this.pattern, file, option)
  }
}

function formatMessage(construct: string, pattern: string, file?: string, option?: string): string {
  const where = [file, option].filter((part): part is string => part !== undefined && part !== '')
  const prefix = where.length > 0 ? `${where.join(': ')}: ` : ''
  return `${prefix}unsupported construct "${construct}" in "${pattern}"`
}
