import { describe, expect, it } from 'vitest';
import { Fifo } from '../../../src/redis/fifo.js';
import { rng } from '../helpers/prng.js';

describe('Fifo', () => {
  it('keeps first-in first-out order across growth and wrap-around, against an array', () => {
    const random = rng(0xf1f0);
    const fifo = new Fifo<number>();
    const model: number[] = [];
    let next = 0;
    for (let step = 0; step < 20_000; step++) {
      if (random.next() < 0.55) {
        fifo.push(next);
        model.push(next++);
      } else {
        expect(fifo.shift()).toBe(model.shift());
      }
      expect(fifo.length).toBe(model.length);
      expect(fifo.peek()).toBe(model[0]);
      expect(fifo.last()).toBe(model[model.length - 1]);
      const i = Math.floor(random.next() * (model.length + 1));
      expect(fifo.at(i)).toBe(model[i]);
    }
    expect(fifo.drain()).toEqual(model);
    expect(fifo.length).toBe(0);
    expect(fifo.shift()).toBeUndefined();
  });
});
