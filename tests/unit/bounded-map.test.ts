import { describe, expect, it } from 'vitest';

import { BoundedMap } from '../../src/bounded-map.ts';

describe('bounded map (the in-process caches)', () => {
  it('holds at most its limit, dropping the entry set longest ago; setting one again makes it the newest', () => {
    const map = new BoundedMap<string, number>(3);
    for (const [key, value] of [['a', 1], ['b', 2], ['c', 3]] as const) map.set(key, value);
    map.set('a', 10);
    map.set('d', 4);
    expect([...map.entries()]).toEqual([['c', 3], ['a', 10], ['d', 4]]);
    for (let i = 0; i < 1000; i += 1) map.set(`k${i}`, i);
    expect(map.size).toBe(3);
    expect([...map.keys()]).toEqual(['k997', 'k998', 'k999']);
  });
});
