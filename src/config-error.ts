// The one error for a bad setting, whoever reads it: resolveOptions() for the
// library, parseCli() for flags and WSSD_* variables, parseWorkers(). The
// executable prints its message as one line and exits 1; any other exception
// (a RangeError from a bug, say) is not dressed up as bad configuration.
export class ConfigError extends Error {
  override name = 'ConfigError';
}
