/**
 * An ordered map over byte keys: a sorted array searched by bisection. Inserting is O(n) memmove,
 * acceptable up to about a million keys, which is all an in-memory store is for (tests, small
 * embedded use). Holds the arrays it is given; callers copy at the store boundary.
 */
import { compareKeys } from '../tuple.js';
import type { Entry, Key, Value } from '../metadata-store.js';

export class SortedEntries {
  private readonly keys: Key[] = [];
  private readonly values: Value[] = [];

  get size(): number {
    return this.keys.length;
  }

  get(key: Key): Value | undefined {
    const index = this.lowerBound(key);
    const found = this.keys[index];
    return found !== undefined && compareKeys(found, key) === 0 ? this.values[index] : undefined;
  }

  set(key: Key, value: Value): void {
    const index = this.lowerBound(key);
    const found = this.keys[index];
    if (found !== undefined && compareKeys(found, key) === 0) {
      this.values[index] = value;
      return;
    }
    this.keys.splice(index, 0, key);
    this.values.splice(index, 0, value);
  }

  delete(key: Key): void {
    const index = this.lowerBound(key);
    const found = this.keys[index];
    if (found === undefined || compareKeys(found, key) !== 0) return;
    this.keys.splice(index, 1);
    this.values.splice(index, 1);
  }

  /** Entries in [start, end), ascending or descending; lazily, so a caller may stop at any time. */
  *range(start: Key, end: Key, reverse: boolean): Generator<Entry> {
    const first = this.lowerBound(start);
    const afterLast = this.lowerBound(end);
    if (reverse) {
      for (let index = afterLast - 1; index >= first; index--) yield this.at(index);
    } else {
      for (let index = first; index < afterLast; index++) yield this.at(index);
    }
  }

  /** The index of the first key not less than `key` (the array length if there is none). */
  private lowerBound(key: Key): number {
    let low = 0;
    let high = this.keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareKeys(this.keys[middle] as Key, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private at(index: number): Entry {
    return { key: this.keys[index] as Key, value: this.values[index] as Value };
  }
}
