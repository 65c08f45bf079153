// The PHP-generated fixtures of this folder (fixtures/*.json, written by
// fixtures/generate.php with PHP 8.2: see its header), and hex helpers.
import { readFileSync } from 'node:fs';

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

/** Bytes from the fixtures' hex. */
export function unhex(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

/** PHP-serialized text as bytes (every char one byte). */
export function bin(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}
