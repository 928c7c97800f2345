/** A mistake in how banstream was called or configured: reported as one line on stderr, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}
