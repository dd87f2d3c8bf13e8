import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fnv1a32, partitionOf, partitionsOfWorker, workerOf } from './partitioning.js';
import { loadConfig } from './config/index.js';

/** 32-bit FNV-1a of the bytes c3 a9, worked out separately (Python) rather than by the code under test. */
const HASH_OF_C3_A9 = 0x1e9de8c1;

describe('partitioning', () => {
  it('hashes with 32-bit FNV-1a over UTF-8 bytes (the published test vectors: the hash is part of the data format)', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
    // UTF-8, not UTF-16 code units or Latin-1: "é" hashes as the two bytes c3 a9.
    assert.equal(fnv1a32('é'), HASH_OF_C3_A9);
  });

  it('hashes the same bytes as TextEncoder writes, for 1- to 4-byte characters and lone surrogates', () => {
    const encoder = new TextEncoder();
    const byBytes = (text: string): number => {
      let hash = 0x811c9dc5;
      for (const byte of encoder.encode(text)) hash = Math.imul(hash ^ byte, 0x01000193);
      return hash >>> 0;
    };
    const texts = [
      'orders.eu-1',
      'é',
      'ß/Ω',
      '注文',
      '€',
      '\uffff',
      '😀',
      'a😀b',
      '\ud800',
      '\udc00x',
      'x\ud83d',
      '\ud83d\ud83d\ude00',
    ];
    for (let code = 0; code < 0x10000; code += 7) texts.push(String.fromCharCode(code, code ^ 0x55));
    for (const text of texts) assert.equal(fnv1a32(text), byBytes(text), JSON.stringify(text));
  });

  it('places a subject in the same partition every time, spread over all of them', () => {
    assert.equal(partitionOf('orders', 16), fnv1a32('orders') % 16);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(partitionOf(`subject-${i}`, 16));
    assert.equal(seen.size, 16);
  });

  it('splits the partitions among workers round robin, each owned by exactly one', () => {
    const owned = [0, 1, 2].map((w) => partitionsOfWorker(w, 3, 16));
    assert.deepEqual(owned[0], [0, 3, 6, 9, 12, 15]);
    assert.deepEqual(
      owned.flat().sort((a, b) => a - b),
      Array.from({ length: 16 }, (_, p) => p),
    );
    for (let p = 0; p < 16; p++) assert.ok(owned[workerOf(p, 3)]?.includes(p));
  });

  it('reads BROKER_WORKERS as a count or auto, and BROKER_PARTITIONS as unset or a count', () => {
    assert.equal(loadConfig({}).workers, 1);
    assert.equal(loadConfig({ BROKER_WORKERS: 'auto' }).workers, 'auto');
    assert.equal(loadConfig({ BROKER_WORKERS: '3' }).workers, 3);
    assert.throws(() => loadConfig({ BROKER_WORKERS: '0' }), /BROKER_WORKERS/);
    assert.equal(loadConfig({}).partitions, undefined);
    assert.equal(loadConfig({ BROKER_PARTITIONS: '64' }).partitions, 64);
    assert.throws(() => loadConfig({ BROKER_PARTITIONS: '5000' }), /BROKER_PARTITIONS/);
  });
});
