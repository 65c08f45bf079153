// The machinery behind the tables, on a small table of its own: what each
// kind of declaration reads from flags and variables, how --help lays lines
// out, and how a declaration resolves a value.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config-error.js';
import { defaultShown, flagHelp, parseFlags, readFlags } from '../../../src/cli/flags.js';
import { choice, defaultsOf, integer, list, resolveTable, text, toggle, value } from '../../../src/options/declaration.js';

const table = {
  count: integer({ min: 1, max: 9, default: 3, flag: { name: 'count', arg: 'N' }, help: 'how many' }),
  level: integer({ min: 0, flag: { name: 'level', arg: 'N' }, help: 'how deep' }),
  loud: toggle({ default: false, flag: { name: 'loud' }, help: 'shout' }),
  quiet: toggle({ default: true, help: 'no flag' }),
  name: text({ default: 'x', flag: { name: 'name', arg: 'S', short: 'n' }, help: 'a name' }),
  mode: choice({ choices: ['a', 'b'], default: 'a', flag: { name: 'mode', arg: 'M' }, help: 'a mode' }),
  files: list({ flag: { name: 'file', arg: 'F' }, help: 'files' }),
  paths: list({ flag: { name: 'p', arg: 'P', commas: 'env' }, help: 'paths' }),
  hosts: list({ flag: { name: 'hosts', arg: 'H', commas: 'everywhere' }, help: 'hosts' }),
  secret: text({ flag: { name: 'secret', arg: 'S', env: false }, help: 'not from the environment' }),
  hook: value<() => void>({ help: 'code only' }),
};

const read = (argv: string[], env: NodeJS.ProcessEnv = {}) => readFlags(table, parseFlags(argv, [table]), env);

describe('readFlags', () => {
  it('nothing given: switches are off, everything else undefined', () => {
    expect(read([])).toEqual({
      count: undefined,
      level: undefined,
      loud: false,
      name: undefined,
      mode: undefined,
      files: undefined,
      paths: undefined,
      hosts: undefined,
      secret: undefined,
    });
  });

  it('each kind from its flag', () => {
    expect(
      read(['--count', '12', '--level', '0', '--loud', '-n', 'y', '--mode', 'b', '--file', 'a,b', '--file', 'c', '--p', '/x,y', '--hosts', ' h1, h2,', '--secret', 's']),
    ).toEqual({ count: 12, level: 0, loud: true, name: 'y', mode: 'b', files: ['a,b', 'c'], paths: ['/x,y'], hosts: ['h1', 'h2'], secret: 's' });
  });

  it('each kind from its variable; lists split on commas only where declared', () => {
    expect(
      read([], {
        WSSD_COUNT: '4',
        WSSD_LOUD: 'true',
        WSSD_NAME: 'z',
        WSSD_MODE: 'b',
        WSSD_FILE: 'a,b',
        WSSD_P: '/x,/y',
        WSSD_HOSTS: 'h1 ,h2',
        WSSD_SECRET: 'ignored',
      }),
    ).toMatchObject({ count: 4, loud: true, name: 'z', mode: 'b', files: ['a,b'], paths: ['/x', '/y'], hosts: ['h1', 'h2'], secret: undefined });
  });

  it('a flag given as an empty string is kept; an empty variable is not', () => {
    expect(read(['--name', '']).name).toBe('');
    expect(read([], { WSSD_NAME: '' }).name).toBeUndefined();
  });

  it('bad integers and choices name the flag', () => {
    expect(() => read(['--count', 'x'])).toThrow(new ConfigError('--count must be a non-negative integer, got "x"'));
    expect(() => read([], { WSSD_MODE: 'c' })).toThrow(new ConfigError('--mode must be a or b, got "c"'));
  });

  it('parseArgs errors become ConfigErrors', () => {
    for (const argv of [['--nope'], ['--count'], ['stray'], ['--loud=1']]) {
      expect(() => parseFlags(argv, [table]), argv.join(' ')).toThrow(ConfigError);
    }
  });
});

describe('resolveTable and defaultsOf', () => {
  it('defaults fill what is not given; bounds and choices are checked', () => {
    expect(resolveTable(table, {})).toMatchObject({ count: 3, level: undefined, loud: false, quiet: true, name: 'x', mode: 'a', files: undefined });
    expect(resolveTable(table, { count: 9, quiet: false, level: 2 ** 40 })).toMatchObject({ count: 9, quiet: false, level: 2 ** 40 });
    expect(() => resolveTable(table, { count: 10 })).toThrow('count must be a positive integer up to 9, got 10');
    expect(() => resolveTable(table, { level: -1 })).toThrow('level must be a non-negative integer, got -1');
    expect(() => resolveTable(table, { mode: 'c' as 'a' })).toThrow("mode must be 'a' or 'b', got c");
  });

  it('defaultsOf has exactly the entries with a default', () => {
    expect(defaultsOf(table)).toEqual({ count: 3, loud: false, quiet: true, name: 'x', mode: 'a' });
  });
});

describe('flagHelp', () => {
  it('one row per flag in table order, arguments aligned, defaults shown, lists marked repeatable', () => {
    const lines = flagHelp([table]).trimEnd().split('\n');
    expect(lines.map((l) => l.trim().split(/\s+/)[0])).toEqual(['--count', '--level', '--loud', '-n,', '--mode', '--file', '--p', '--hosts', '--secret']);
    expect(lines[0]).toBe('  --count N     how many (default 3)');
    expect(lines[2]).toBe('  --loud        shout (default off)');
    expect(lines[3]).toBe('  -n, --name S  a name (default x)');
    expect(lines[5]).toBe('  --file F      files; repeatable');
  });

  it('wraps long lines under the help column and never splits "(default …)"', () => {
    const long = { a: integer({ min: 1, default: 1234, flag: { name: 'a', arg: 'N' }, help: 'word '.repeat(30).trim(), shows: 'one two three' }) };
    const lines = flagHelp([long], 60).trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(60);
    // The help column: two spaces, "--a N", two spaces.
    const indent = ' '.repeat('  --a N  '.length);
    expect(lines[0].startsWith('  --a N  word')).toBe(true);
    for (const line of lines.slice(1)) expect(line, line).toMatch(new RegExp(`^${indent}(word|\\(default)`));
    expect(lines.join(' ')).toContain('(default one two three)');
  });

  it('defaultShown: `shows` first, then on/off for switches, then the value; none for lists and values', () => {
    expect(defaultShown(table.count)).toBe('3');
    expect(defaultShown(table.loud)).toBe('off');
    expect(defaultShown(table.quiet)).toBe('on');
    expect(defaultShown(table.level)).toBeUndefined();
    expect(defaultShown(table.files)).toBeUndefined();
    expect(defaultShown(table.hook)).toBeUndefined();
  });
});
