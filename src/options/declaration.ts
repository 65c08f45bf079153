// How an option is declared: what it holds, its default and bounds, its
// command-line flag and its help line, all in one entry of a table (server-options.ts
// for the server, cli/main.ts for the executable). The types and checks that
// everything else uses are derived from those entries here.
import { ConfigError, naming, option } from '../config-error.js';

/**
 * A command-line flag. Its environment variable is WSSD_ and the flag's name
 * in capitals with - as _ (--max-payload → WSSD_MAX_PAYLOAD); a flag given on
 * the command line wins over the variable, and an empty variable counts as unset.
 */
export interface Flag {
  /** --name */
  readonly name: string;
  /** What follows the flag in --help (N, MS, FILE…); none for a switch. */
  readonly arg?: string;
  /** A one-letter alias (-h). */
  readonly short?: string;
  /**
   * For a list, where a comma separates values: only in the environment
   * variable, which can hold just one value, or in flags too.
   */
  readonly commas?: 'env' | 'everywhere';
  /** false: no environment variable (--help makes no sense as one). */
  readonly env?: false;
}

/** What every declaration says. */
interface Described {
  /** One line for --help and the reader of the table; the default is added after it. */
  readonly help: string;
  readonly flag?: Flag;
  /** What --help shows as the default when the default itself would not say it (or there is none). */
  readonly shows?: string;
}

export interface IntegerFields extends Described {
  /** 1: a positive integer; 0: zero allowed (usually meaning "off"). */
  readonly min: 0 | 1;
  /**
   * Largest value. A positive integer is capped at Number.MAX_SAFE_INTEGER
   * when none is given; a non-negative one without a max is unbounded.
   */
  readonly max?: number;
  readonly default?: number;
}
export interface SwitchFields extends Described {
  readonly default?: boolean;
}
export interface TextFields extends Described {
  readonly default?: string;
}
export interface ChoiceFields extends Described {
  readonly choices: readonly string[];
  readonly default?: string;
}
export interface ListFields extends Described {
  /** Also accepts one string in place of a list (the `path` option). */
  readonly acceptsOne?: true;
}

export type IntegerDeclaration = IntegerFields & { readonly kind: 'integer' };
export type SwitchDeclaration = SwitchFields & { readonly kind: 'switch'; readonly orValue?: true };
export type TextDeclaration = TextFields & { readonly kind: 'text' };
export type ChoiceDeclaration = ChoiceFields & { readonly kind: 'choice' };
/** A list of strings; its flag may be repeated. */
export type ListDeclaration = ListFields & { readonly kind: 'list' };
/**
 * Anything only code can pass (PEM buffers, functions, a logger): no flag, no
 * default, not checked here. `type` exists for TypeScript only.
 */
export interface ValueDeclaration<Value> extends Described {
  readonly kind: 'value';
  readonly flag?: undefined;
  readonly type?: Value;
}

export type Declaration =
  | IntegerDeclaration
  | SwitchDeclaration
  | TextDeclaration
  | ChoiceDeclaration
  | ListDeclaration
  | ValueDeclaration<unknown>;

export type DeclarationTable = Readonly<Record<string, Declaration>>;

// The constructors keep each entry's literal type (`const`), so the types
// below can tell which entries have a default, a flag, which choices.
export function integer<const D extends IntegerFields>(fields: D): D & { readonly kind: 'integer' } {
  return { ...fields, kind: 'integer' };
}
export function toggle<const D extends SwitchFields>(fields: D): D & { readonly kind: 'switch' } {
  return { ...fields, kind: 'switch' };
}
/**
 * A switch on the command line (on or off), which a library caller may also
 * set to an object of settings (`perMessageDeflate: { … }`): checked by its
 * consumer, passed through here. `Value` exists for TypeScript only.
 */
export function toggleOr<Value>() {
  return <const D extends SwitchFields>(fields: D): D & { readonly kind: 'switch'; readonly orValue: true; readonly valueType?: Value } => ({ ...fields, kind: 'switch', orValue: true });
}
export function text<const D extends TextFields>(fields: D): D & { readonly kind: 'text' } {
  return { ...fields, kind: 'text' };
}
export function choice<const D extends ChoiceFields>(fields: D): D & { readonly kind: 'choice' } {
  return { ...fields, kind: 'choice' };
}
export function list<const D extends ListFields>(fields: D): D & { readonly kind: 'list' } {
  return { ...fields, kind: 'list' };
}
export function value<Value>(fields: Omit<Described, 'flag'>): ValueDeclaration<Value> {
  return { ...fields, kind: 'value' };
}

/** The type an option holds, as a library user passes it. */
export type ValueOf<D> = D extends { readonly kind: 'integer' }
  ? number
  : D extends { readonly kind: 'switch'; readonly orValue: true; readonly valueType?: infer V }
    ? boolean | V
  : D extends { readonly kind: 'switch' }
    ? boolean
    : D extends { readonly kind: 'text' }
      ? string
      : D extends { readonly kind: 'choice'; readonly choices: readonly (infer C)[] }
        ? C
        : D extends { readonly kind: 'list' }
          ? D extends { readonly acceptsOne: true }
            ? string | readonly string[]
            : readonly string[]
          : D extends ValueDeclaration<infer V>
            ? V
            : never;

/** Every option of a table, optional: what a caller passes. */
export type Given<T> = { -readonly [K in keyof T]?: ValueOf<T[K]> };

/** Every option of a table after resolving: its value, or its default; undefined only where there is no default. */
export type Resolved<T> = { -readonly [K in keyof T]: T[K] extends { readonly default: unknown } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined };

/** The declared defaults of a table, by option name. */
export type Defaults<T> = {
  readonly [K in keyof T as T[K] extends { readonly default: unknown } ? K : never]: T[K] extends { readonly default: infer V } ? V : never;
};

export function defaultsOf<T extends DeclarationTable>(table: T): Defaults<T> {
  const out: Record<string, unknown> = {};
  for (const [name, declaration] of Object.entries(table)) {
    if ('default' in declaration && declaration.default !== undefined) out[name] = declaration.default;
  }
  return out as Defaults<T>;
}

/**
 * Checks an integer against its declaration. The error names the option
 * (`name`), which the executable shows as its flag.
 */
export function checkInteger(name: string, given: unknown, { min, max }: IntegerFields): number {
  if (min === 1) {
    const top = max ?? Number.MAX_SAFE_INTEGER;
    if (Number.isInteger(given) && (given as number) >= 1 && (given as number) <= top) return given as number;
    throw new ConfigError(naming`${option(name)} must be a positive integer up to ${top}, got ${String(given)}`);
  }
  if (Number.isInteger(given) && (given as number) >= 0 && (max === undefined || (given as number) <= max)) return given as number;
  if (max === undefined) throw new ConfigError(naming`${option(name)} must be a non-negative integer, got ${String(given)}`);
  throw new ConfigError(naming`${option(name)} must be 0–${max}, got ${String(given)}`);
}

export function checkChoice(name: string, given: unknown, { choices }: ChoiceFields): string {
  if (typeof given === 'string' && choices.includes(given)) return given;
  throw new ConfigError(naming`${option(name)} must be ${choices.map((c) => `'${c}'`).join(' or ')}, got ${String(given)}`);
}

/** One option's value as given (undefined: not given), defaulted and checked against its declaration. */
export function resolveDeclared(name: string, declaration: Declaration, given: unknown): unknown {
  switch (declaration.kind) {
    case 'integer': {
      const value = given ?? declaration.default;
      return value === undefined ? undefined : checkInteger(name, value, declaration);
    }
    case 'switch':
      if (declaration.orValue === true && typeof given === 'object' && given !== null) return given;
      return given === undefined ? declaration.default : given === true;
    case 'text':
      return given ?? declaration.default;
    case 'choice': {
      const value = given ?? declaration.default;
      return value === undefined ? undefined : checkChoice(name, value, declaration);
    }
    case 'list':
    case 'value':
      return given;
  }
}

/** Every option of `table` resolved from `given`. */
export function resolveTable<T extends DeclarationTable>(table: T, given: Given<T>): Resolved<T> {
  const out: Record<string, unknown> = {};
  const values = given as Record<string, unknown>;
  for (const [name, declaration] of Object.entries(table)) out[name] = resolveDeclared(name, declaration, values[name]);
  return out as Resolved<T>;
}
