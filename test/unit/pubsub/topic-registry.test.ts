// The topic registry without sockets: membership both ways, every count
// change reported with its previous value, nothing left behind.
import { describe, expect, it } from 'vitest';
import { TopicRegistry } from '../../../src/pubsub/topic-registry.js';

type Change = [topic: string, count: number, previous: number];

function registry(): { reg: TopicRegistry<string>; changes: Change[] } {
  const changes: Change[] = [];
  const reg = new TopicRegistry<string>((topic, count, previous) => changes.push([topic, count, previous]));
  return { reg, changes };
}

describe('TopicRegistry', () => {
  it('subscribe/unsubscribe report each count change with the previous count; repeats change nothing', () => {
    const { reg, changes } = registry();
    expect(reg.subscribe('a', 'room')).toBe(true);
    expect(reg.subscribe('a', 'room')).toBe(false);
    expect(reg.subscribe('b', 'room')).toBe(true);
    expect(reg.count('room')).toBe(2);
    expect(reg.unsubscribe('a', 'room')).toBe(true);
    expect(reg.unsubscribe('a', 'room')).toBe(false);
    expect(reg.unsubscribe('b', 'room')).toBe(true);
    expect(changes).toEqual([
      ['room', 1, 0],
      ['room', 2, 1],
      ['room', 1, 2],
      ['room', 0, 1],
    ]);
    expect(reg.count('room')).toBe(0);
  });

  it('isSubscribed, subscribers and topicsOf (in joining order) agree', () => {
    const { reg } = registry();
    reg.subscribe('a', 'x');
    reg.subscribe('a', 'y');
    reg.subscribe('b', 'y');
    expect(reg.isSubscribed('a', 'x')).toBe(true);
    expect(reg.isSubscribed('b', 'x')).toBe(false);
    expect(reg.isSubscribed('a', 'nope')).toBe(false);
    expect([...(reg.subscribers('y') ?? [])]).toEqual(['a', 'b']);
    expect(reg.subscribers('nope')).toBeUndefined();
    expect(reg.topicsOf('a')).toEqual(['x', 'y']);
    expect(reg.topicsOf('nobody')).toEqual([]);
    expect([...reg.topics()]).toEqual(['x', 'y']);
  });

  it('unsubscribeAll leaves every topic and reports each 1 → 0', () => {
    const { reg, changes } = registry();
    reg.subscribe('a', 'x');
    reg.subscribe('a', 'y');
    reg.subscribe('b', 'y');
    changes.length = 0;
    expect(reg.unsubscribeAll('a')).toBe(2);
    expect(reg.unsubscribeAll('a')).toBe(0);
    expect(changes).toEqual([
      ['x', 0, 1],
      ['y', 1, 2],
    ]);
    expect(reg.topicsOf('a')).toEqual([]);
    expect(reg.topicCount).toBe(1);
  });

  it('10,000 subscribers joining and leaving 10 topics each leave no entries behind', () => {
    const { reg } = registry();
    for (let s = 0; s < 10_000; s++) for (let t = 0; t < 10; t++) reg.subscribe(`s${s}`, `t${(s + t) % 37}`);
    expect(reg.subscriberCount).toBe(10_000);
    expect(reg.topicCount).toBe(37);
    for (let s = 0; s < 10_000; s++) {
      if (s % 2 === 0) reg.unsubscribeAll(`s${s}`);
      else for (let t = 0; t < 10; t++) reg.unsubscribe(`s${s}`, `t${(s + t) % 37}`);
    }
    expect(reg.subscriberCount).toBe(0);
    expect(reg.topicCount).toBe(0);
  });
});
