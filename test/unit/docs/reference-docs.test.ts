// The generated reference pages (scripts/generate-docs.ts) are committed: they
// must be what the code renders now, and every flag must be documented.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generatedDocs } from '../../../scripts/generate-docs.js';
import { cliSettings } from '../../../src/cli/main.js';
import type { DeclarationTable } from '../../../src/options/declaration.js';
import { serverOptions } from '../../../src/options/server-options.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Every markdown file under `dir`, recursively. */
function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

describe('generated reference docs', () => {
  for (const { path, render } of generatedDocs) {
    it(`${path} is what the code renders`, () => {
      const committed = readFileSync(join(ROOT, path), 'utf8');
      expect(committed, `${path} differs from what the code renders: run npm run docs`).toBe(render());
    });
  }

  it('docs/reference/api.md names everything the two public entries export', () => {
    const api = readFileSync(join(ROOT, 'docs/reference/api.md'), 'utf8');
    for (const entry of ['src/index.ts', 'src/protocol/index.ts']) {
      const source = readFileSync(join(ROOT, entry), 'utf8');
      const names = [...source.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)].flatMap((m) =>
        m[1].split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop() ?? '').filter((n) => n !== ''),
      );
      expect(names.length, entry).toBeGreaterThan(10);
      const missing = names.filter((name) => !api.includes(`\`${name}`));
      expect(missing, `exports of ${entry} that docs/reference/api.md does not name`).toEqual([]);
    }
  });

  it('docs/internals/architecture.md maps every file of src/', () => {
    const map = readFileSync(join(ROOT, 'docs/internals/architecture.md'), 'utf8');
    const src = join(ROOT, 'src');
    const files = (function walk(dir: string): string[] {
      return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [relative(src, join(dir, e.name))]));
    })(src);
    expect(files.length).toBeGreaterThan(60);
    expect(files.filter((file) => !map.includes(`\`${file}\``)), 'files of src/ that the file map does not name').toEqual([]);
  });

  it('every command-line flag appears in docs/', () => {
    const docs = markdownFiles(join(ROOT, 'docs'))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    const tables: DeclarationTable[] = [serverOptions, cliSettings];
    const flags = tables.flatMap((table) => Object.values(table).flatMap((d) => (d.flag === undefined ? [] : [d.flag.name])));
    expect(flags.length).toBeGreaterThan(30);
    const missing = flags.filter((name) => !new RegExp(`--${name}(?![\\w-])`).test(docs));
    expect(missing, 'flags that no page under docs/ names').toEqual([]);
  });
});
