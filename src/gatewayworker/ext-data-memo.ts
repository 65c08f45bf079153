// What a command's ext_data means, remembered for the next command with the
// same bytes: a BusinessWorker's sendToGroup writes `{"group":["room"],
// "exclude":null}` for a group every time, and reading that JSON again was a
// tenth of the Gateway's time under a chat's load. Bounded: past MAX_ENTRIES
// different ones, it starts again empty. The values kept must not be
// changed by whoever gets them.

/** Different ext_data kept at most (each at most MAX_BYTES long). */
const MAX_ENTRIES = 512;
/** Longer ext_data is read every time: a long list of groups is rarely sent twice. */
const MAX_BYTES = 256;

export class ExtDataMemo<T> {
  private readonly kept = new Map<string, T>();

  constructor(private readonly read: (extData: Buffer) => T) {}

  get(extData: Buffer): T {
    if (extData.length > MAX_BYTES) return this.read(extData);
    const key = extData.toString('latin1');
    let value = this.kept.get(key);
    if (value === undefined) {
      // What throws is not kept: the next one throws again.
      value = this.read(extData);
      if (this.kept.size >= MAX_ENTRIES) this.kept.clear();
      this.kept.set(key, value);
    }
    return value;
  }
}
