// Every relative link in the README, CONTRIBUTING, SECURITY and docs/ points
// at a file or folder of the repository, and every #anchor at a heading of
// its page (GitHub's slugs).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Targets that another branch adds (the bench's method and its dated
 * results): linked already, checked like any other once they exist.
 */
const PENDING = new Set(['bench/README.md', 'bench/results']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

/** The text outside fenced code blocks and inline code. */
function prose(markdown: string): string {
  return markdown.replace(/^```[^]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  const text = readFileSync(file, 'utf8').replace(/^```[^]*?^```/gm, '');
  for (const [, heading] of text.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)) {
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

const pages = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md'].map((f) => join(ROOT, f)).concat(markdownFiles(join(ROOT, 'docs')));

describe('relative links in the docs resolve', () => {
  for (const page of pages) {
    it(relative(ROOT, page), () => {
      const broken: string[] = [];
      const links = [...prose(readFileSync(page, 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
      for (const link of links) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
        const [path, anchor] = link.split('#', 2);
        const target = path === '' ? page : join(dirname(page), decodeURIComponent(path));
        const fromRoot = relative(ROOT, target).replace(/\/$/, '');
        if (fromRoot.startsWith('..')) {
          broken.push(`${link} (outside the repository)`);
          continue;
        }
        if (!existsSync(target)) {
          if (!PENDING.has(fromRoot)) broken.push(`${link} (no such file)`);
          continue;
        }
        if (anchor !== undefined && statSync(target).isFile() && target.endsWith('.md') && !anchorsOf(target).has(anchor)) {
          broken.push(`${link} (no heading #${anchor})`);
        }
      }
      expect(links.length, 'a page without links is fine, but this one should have some').toBeGreaterThan(0);
      expect(broken).toEqual([]);
    });
  }
});
