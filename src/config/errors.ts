/** A configuration file or option that cannot be read the way fail2ban reads it. */
export class ConfigError extends Error {
  constructor(message: string, readonly file?: string, readonly option?: string) {
    super(file ? `${file}: ${message}` : message)
    this.name = 'ConfigError'
  }
}

/** A section that a look-up needs does not exist (configparser's NoSectionError). */
export class MissingSectionError extends ConfigError {
  constructor(readonly section: string) {
    super(`no section [${section}]`)
    this.name = 'MissingSectionError'
  }
}
