// src/client/ is served to browsers and WeChat as it is compiled: it may load nothing from the
// server, no Node module, no Node global; and wssd-client.js loads only wssd-protocol.js at run time
// (types.js is types only), the one other file the server serves next to it.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIR = fileURLToPath(new URL('../../../src/client/', import.meta.url));
const files = readdirSync(DIR).filter((f) => f.endsWith('.ts'));

/** The code without its comments and string contents, so prose cannot trip the checks. */
function code(source: string): string {
  return source
    .replace(/\/\*[^]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, "''");
}

/** Every import and re-export: its specifier, and whether it is erased when compiled. */
function imports(source: string): { from: string; typeOnly: boolean }[] {
  return [...source.matchAll(/^(import|export)\s+(type\s+)?[^;]*?\sfrom\s+'([^']+)'/gm)].map((m) => ({ from: m[3], typeOnly: m[2] !== undefined }));
}

describe('src/client/ stands alone', () => {
  it('has the files the package exports', () => {
    expect(files.sort()).toEqual(['types.ts', 'wechat.ts', 'wssd-client.ts', 'wssd-protocol.ts']);
  });

  for (const file of files) {
    it(`${file} imports only from src/client/, and uses no Node API`, () => {
      const source = readFileSync(DIR + file, 'utf8');
      for (const { from } of imports(source)) expect(from, `${file} imports ${from}`).toMatch(/^\.\/[a-z-]+\.js$/);
      const body = code(source);
      for (const banned of [/\bBuffer\b/, /\bprocess\b/, /\brequire\s*\(/, /\bnode:/, /\b__dirname\b/, /\bsetImmediate\b/, /\bglobal\./, /\bimport\s*\(/]) {
        expect(body, `${file} uses ${banned}`).not.toMatch(banned);
      }
    });
  }

  it('at run time wssd-client loads only wssd-protocol.js, wssd-protocol.js and types.js load nothing', () => {
    const runtime = (file: string): string[] => imports(readFileSync(DIR + file, 'utf8')).filter((i) => !i.typeOnly).map((i) => i.from);
    expect(new Set(runtime('wssd-client.ts'))).toEqual(new Set(['./wssd-protocol.js']));
    expect(runtime('wssd-protocol.ts')).toEqual([]);
    expect(runtime('types.ts')).toEqual([]);
    expect(runtime('wechat.ts')).toEqual(['./wssd-protocol.js']);
  });

  it('types.ts declares types only, so that compiling erases it', () => {
    const body = code(readFileSync(DIR + 'types.ts', 'utf8'));
    expect(body).not.toMatch(/^\s*export\s+(const|let|var|function|class|enum)\b/m);
  });

  it('no file is over 450 lines', () => {
    for (const file of files) expect(readFileSync(DIR + file, 'utf8').split('\n').length, file).toBeLessThanOrEqual(451);
  });
});
