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

/** What parseArgs returns: a string, a switch, or every value of a repeated flag. */
export type ParsedFlags = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The flags in argv. An unknown flag, a flag without its value or a stray argument is a ConfigError. */
export function parseFlags(argv: readonly string[], tables: readonly DeclarationTable[]): ParsedFlags {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const declaration of flagged(tables)) {
    const { flag } = declaration;
    options[flag.name] = {
      type: declaration.kind === 'switch' ? 'boolean' : 'string',
      multiple: declaration.kind === 'list',
      ...(flag.short !== undefined ? { short: flag.short } : {}),
    };
  }
  try {
    return parseArgs({ args: [...argv], strict: true, options }).values;
  } catch (error) {
    // parseArgs reports the operator's typo as a TypeError; anything else is a bug and stays one.
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) throw new ConfigError((error as Error).message, { cause: error });
    throw error;
  }
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
    if (declaration.flag !== undefined) out[key] = readFlag(declaration, declaration.flag, parsed[declaration.flag.name], env);
  }
  return out as FlagValues<T>;
}

function readFlag(declaration: Declaration, flag: Flag, given: ParsedFlags[string], env: NodeJS.ProcessEnv): unknown {
  const variable = envName(flag);
  const raw = variable === undefined ? undefined : env[variable];
  const fromEnv = raw === '' ? undefined : raw;
  switch (declaration.kind) {
    case 'switch':
      return given === true || fromEnv === '1' || fromEnv === 'true';
    case 'list': {
      // A path may contain a comma, so --path takes it whole; a variable has one value, so there commas separate.
      const values = Array.isArray(given) ? given.map(String) : fromEnv === undefined ? undefined : flag.commas === undefined ? [fromEnv] : fromEnv.split(',');
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

/** One line per flag (wrapped to `width` columns): the flag, its help line, "repeatable" for a list, and its default. */
export function flagHelp(tables: readonly DeclarationTable[], width = 100): string {
  const rows = flagged(tables).map((declaration) => {
    const { flag } = declaration;
    const left = `${flag.short !== undefined ? `-${flag.short}, ` : ''}--${flag.name}${flag.arg !== undefined ? ` ${flag.arg}` : ''}`;
    const shown = defaultShown(declaration);
    // The default is kept on one line: its spaces are non-breaking until wrapped.
    const defaultPart = shown !== undefined ? ` (default ${shown})`.replace(/(?<=.) /g, NBSP) : '';
    const right = `${declaration.help}${declaration.kind === 'list' ? '; repeatable' : ''}${defaultPart}`;
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

type FlaggedDeclaration = Declaration & { readonly flag: Flag };

function flagged(tables: readonly DeclarationTable[]): FlaggedDeclaration[] {
  return tables.flatMap((table) => Object.values(table).filter((d): d is FlaggedDeclaration => d.flag !== undefined));
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
