// The one error for a bad setting, whoever reads it: resolveOptions() for the
// library, parseCli() for flags and WSSD_* variables, parseWorkers(). The
// executable prints its message as one line and exits 1; any other exception
// (a RangeError from a bug, say) is not dressed up as bad configuration.
//
// A message names the options it is about as markers, not as text, so each
// reader gets the names it knows: `message` (the library's) says
// `historySize needs redis`, and the executable renders the same error with
// its flags, `--history-size needs --redis` (cli/main.ts).

/** An option named in a message, by its library name (serverOptions' key). */
export interface OptionMention {
  readonly option: string;
}

export type MessagePart = string | OptionMention;

/** Marks `name` as an option in a message made with `naming`. */
export function option(name: string): OptionMention {
  return { option: name };
}

/**
 * A message naming options, as a template:
 * naming`${option('historySize')} needs ${option('redis')}`. Other values
 * are text.
 */
export function naming(strings: TemplateStringsArray, ...values: readonly unknown[]): MessagePart[] {
  const parts: MessagePart[] = [strings[0]];
  values.forEach((value, i) => parts.push(isMention(value) ? value : String(value), strings[i + 1]));
  return parts.filter((part) => part !== '');
}

function isMention(value: unknown): value is OptionMention {
  return typeof value === 'object' && value !== null && typeof (value as { option?: unknown }).option === 'string';
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  /** The message as text and the options it names, in order. */
  readonly parts: readonly MessagePart[];

  constructor(message: string | readonly MessagePart[], options?: ErrorOptions) {
    const parts = typeof message === 'string' ? [message] : message;
    super(render(parts, (name) => name), options);
    this.parts = parts;
  }

  /** The options this error is about, by library name. */
  get options(): string[] {
    return this.parts.flatMap((part) => (typeof part === 'string' ? [] : [part.option]));
  }

  /** The message with every option named by `name` (the executable passes its flag). */
  render(name: (option: string) => string): string {
    return render(this.parts, name);
  }
}

function render(parts: readonly MessagePart[], name: (option: string) => string): string {
  return parts.map((part) => (typeof part === 'string' ? part : name(part.option))).join('');
}

/**
 * Runs `check`; a ConfigError or RangeError it throws that names no option
 * yet comes out as a ConfigError about `name` ("redis: not a Redis URL…"),
 * so a helper that knows nothing of options (a URL parser, a key file
 * reader) still reports which one was wrong.
 */
export function about<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof ConfigError && error.options.length > 0) throw error;
    if (error instanceof ConfigError || error instanceof RangeError) throw new ConfigError([option(name), `: ${error.message}`], { cause: error });
    throw error;
  }
}
