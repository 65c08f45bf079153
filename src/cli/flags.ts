// Command-line flags and their WSSD_* environment variables, derived from the
// option tables (options/server-options.ts, cli/main.ts): the node:util parseArgs table, each
// flag's value (the flag wins over the variable), and the lines of --help.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config-error.js';
import type { Declaration, DeclarationTable, Flag } from '../options/declaration.js';

/** WSSD_ and the flag's name in capitals, - as _; undefined for a flag that has no variable. */
export function envName(flag: Flag): string | undefined {
  return flag.env === false ? undefined : `WSSD_${flag.name.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * The flag as typed, without its dashes: its name, or for a switch that is
 * on by default, no-NAME (--no-demo-page), the only way it can be changed.
 * Its variable keeps the plain name (WSSD_DEMO_PAGE=0).
 */
export function commandLineName(declaration: FlaggedDeclaration): string {
  return declaration.kind === 'switch' && declaration.default === true ? `no-${declaration.flag.name}` : declaration.flag.name;
}

/** The flags given, by command-line name: a switch's true, a value, or every value of a repeated flag. */
export type ParsedFlags = Record<string, string | true | string[] | undefined>;

/** A negative number is a value (--port -1 is then refused for what it is), anything else with a dash a flag. */
const NEGATIVE_NUMBER = /^-[0-9]/;

/**
 * The flags in argv. An unknown flag, a flag without its value, a switch
 * with one, or a stray argument is a ConfigError of one line naming it.
 * parseArgs runs loose (its strict errors are several lines and take
 * --workers -1 for an unknown -1), and its tokens are checked here.
 */
export function parseFlags(argv: readonly string[], tables: readonly DeclarationTable[]): ParsedFlags {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  const byName = new Map<string, FlaggedDeclaration>();
  for (const declaration of flagged(tables)) {
    const name = commandLineName(declaration);
    byName.set(name, declaration);
    options[name] = {
      type: declaration.kind === 'switch' ? 'boolean' : 'string',
      ...(declaration.flag.short !== undefined ? { short: declaration.flag.short } : {}),
    };
  }
  const { tokens } = parseArgs({ args: [...argv], strict: false, tokens: true, options });
  const parsed: ParsedFlags = {};
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') throw new ConfigError(`unexpected argument "${token.value}": every setting is a flag (see --help)`);
    const declaration = byName.get(token.name);
    const typed = argv[token.index];
    if (declaration === undefined) {
      throw new ConfigError(NEGATIVE_NUMBER.test(typed) ? `unexpected argument "${typed}": every setting is a flag (see --help)` : `unknown flag ${token.rawName} (see --help)`);
    }
    const flag = `--${token.name}`;
    if (declaration.kind === 'switch') {
      if (token.value !== undefined) throw new ConfigError(`${flag} is a switch and takes no value, got "${token.value}"`);
      parsed[token.name] = true;
      continue;
    }
    const value = token.value;
    if (value === undefined) throw new ConfigError(`${flag} needs a value`);
    if (!token.inlineValue && value.startsWith('-') && !NEGATIVE_NUMBER.test(value)) {
      throw new ConfigError(`${flag} needs a value, got the flag ${value} (a value starting with - goes as ${flag}=VALUE)`);
    }
    if (declaration.kind !== 'list') parsed[token.name] = value;
    else parsed[token.name] = [...((parsed[token.name] as string[] | undefined) ?? []), value];
  }
  return parsed;
}

/** The value a flag (or its variable) gives, by kind: a switch is always there (false when off); a list gives every value. */
type FlagValueOf<D> = D extends { readonly kind: 'switch' }
  ? boolean
  :
      | (D extends { readonly kind: 'integer' }
          ? number
          : D extends { readonly kind: 'choice'; readonly choices: readonly (infer C)[] }
            ? C
            : D extends { readonly kind: 'list' }
              ? string[]
              : string)
      | undefined;

/** The entries of a table that have a flag, with what each flag gave. */
export type FlagValues<T> = { -readonly [K in keyof T as T[K] extends { readonly flag: Flag } ? K : never]: FlagValueOf<T[K]> };

/** Reads every flagged entry of `table` from the parsed flags, else from the environment. */
export function readFlags<T extends DeclarationTable>(table: T, parsed: ParsedFlags, env: NodeJS.ProcessEnv): FlagValues<T> {
  const out: Record<string, unknown> = {};
  for (const [key, declaration] of Object.entries(table)) {
    if (isFlagged(declaration)) out[key] = readFlag(declaration, parsed[commandLineName(declaration)], env);
  }
  return out as FlagValues<T>;
}

function readFlag(declaration: FlaggedDeclaration, given: ParsedFlags[string], env: NodeJS.ProcessEnv): unknown {
  const { flag } = declaration;
  const variable = envName(flag);
  const raw = variable === undefined ? undefined : env[variable];
  const fromEnv = raw === '' ? undefined : raw;
  switch (declaration.kind) {
    case 'switch': {
      // Given, the flag turns the switch from its default (--plain on, --no-demo-page off).
      if (given === true) return declaration.default !== true;
      if (fromEnv === '1' || fromEnv === 'true') return true;
      if (fromEnv === '0' || fromEnv === 'false') return false;
      return declaration.default === true;
    }
    case 'list': {
      // A path may contain a comma, so --path takes it whole; a variable has one value, so there commas separate.
      const values = Array.isArray(given) ? given : fromEnv === undefined ? undefined : flag.commas === undefined ? [fromEnv] : fromEnv.split(',');
      if (values === undefined || flag.commas !== 'everywhere') return values;
      // A hand-written address list: "a, b" and a trailing comma are fine.
      return values
        .flatMap((v) => v.split(','))
        .map((v) => v.trim())
        .filter((v) => v !== '');
    }
    default: {
      const value = typeof given === 'string' ? given : fromEnv;
      if (value === undefined) return undefined;
      if (declaration.kind === 'integer') {
        if (!/^[0-9]+$/.test(value)) throw new ConfigError(`--${flag.name} must be a non-negative integer, got "${value}"`);
        return Number(value);
      }
      if (declaration.kind === 'choice' && !declaration.choices.includes(value)) {
        throw new ConfigError(`--${flag.name} must be ${declaration.choices.join(' or ')}, got "${value}"`);
      }
      return value;
    }
  }
}

/**
 * One line per flag (wrapped to `width` columns): the flag, its help line,
 * "repeatable" for a list, and its default; a --no- flag's line says "turn off".
 */
export function flagHelp(tables: readonly DeclarationTable[], width = 100): string {
  const rows = flagged(tables).map((declaration) => {
    const { flag } = declaration;
    const left = `${flag.short !== undefined ? `-${flag.short}, ` : ''}--${commandLineName(declaration)}${flag.arg !== undefined ? ` ${flag.arg}` : ''}`;
    // A --no- flag turns off what its help line describes, which is therefore on by default.
    const negated = commandLineName(declaration) !== flag.name;
    const shown = negated ? undefined : defaultShown(declaration);
    // The default is kept on one line: its spaces are non-breaking until wrapped.
    const defaultPart = shown !== undefined ? ` (default ${shown})`.replace(/(?<=.) /g, NBSP) : '';
    const right = `${negated ? 'turn off ' : ''}${declaration.help}${declaration.kind === 'list' ? '; repeatable' : ''}${defaultPart}`;
    return { left, right };
  });
  const column = Math.max(...rows.map((r) => r.left.length)) + 4;
  return rows.map(({ left, right }) => wrap(`  ${left.padEnd(column - 2)}${right}`, width, column).replaceAll(NBSP, ' ')).join('\n') + '\n';
}

const NBSP = '\u00a0';

/** How --help shows a declaration's default; undefined when it has none worth showing. */
export function defaultShown(declaration: Declaration): string | undefined {
  if (declaration.shows !== undefined) return declaration.shows;
  if (declaration.kind === 'value' || declaration.kind === 'list' || declaration.default === undefined) return undefined;
  if (declaration.kind === 'switch') return declaration.default ? 'on' : 'off';
  return String(declaration.default);
}

export type FlaggedDeclaration = Declaration & { readonly flag: Flag };

function isFlagged(declaration: Declaration): declaration is FlaggedDeclaration {
  return declaration.flag !== undefined;
}

function flagged(tables: readonly DeclarationTable[]): FlaggedDeclaration[] {
  return tables.flatMap((table) => Object.values(table).filter(isFlagged));
}

/**
 * How the executable writes each option of `tables`: --flag for the flagged
 * ones (--no-NAME for a switch on by default), by option name. An option
 * without a flag is not in it.
 */
export function flagsByOption(tables: readonly DeclarationTable[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (const table of tables) {
    for (const [name, declaration] of Object.entries(table)) {
      if (isFlagged(declaration) && !flags.has(name)) flags.set(name, `--${commandLineName(declaration)}`);
    }
  }
  return flags;
}

/** Breaks `line` at spaces before `width`, indenting continuation lines to `indent`. */
function wrap(line: string, width: number, indent: number): string {
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const at = rest.lastIndexOf(' ', width);
    if (at <= indent) break;
    out.push(rest.slice(0, at));
    rest = ' '.repeat(indent) + rest.slice(at + 1);
  }
  out.push(rest);
  return out.join('\n');
}
