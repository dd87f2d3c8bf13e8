import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { BrokerClient } from '../../proto/gen/broker.js';
import {
  failure,
  fetchMessage,
  metricValue,
  publish,
  startBrokerProcess,
  type BrokerProcess,
} from '../test-support/broker-process.js';

const MiB = 1024 * 1024;

async function rssOf(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(text)?.[1] ?? Number.NaN) * 1024;
}

function publishBatch(client: BrokerClient, subjects: readonly string[]): Promise<number[]> {
  const messages = subjects.map((subject) => ({ subject, body: Buffer.from('x'), expirationSeconds: 0 }));
  return new Promise((resolve, reject) =>
    client.publishBatch({ messages }, (err, res) => (err ? reject(err) : resolve(res.ids))),
  );
}

/**
 * The broker's heap in use right after a full GC: SIGUSR2 makes it write a heap snapshot (--heapsnapshot-signal),
 * which collects garbage first; once the file exists the write has started, and it blocks the event loop, so the
 * /metrics answer (prom-client's nodejs_heap_size_used_bytes) comes after it.
 */
async function heapAfterGc(broker: BrokerProcess, snapshots: string): Promise<number> {
  const count = (await readdir(snapshots)).length;
  broker.child.kill('SIGUSR2');
  while ((await readdir(snapshots)).length === count) await new Promise((r) => setTimeout(r, 20));
  const heap = metricValue(await broker.metrics(), 'nodejs_heap_size_used_bytes') ?? assert.fail('no heap metric');
  for (const file of await readdir(snapshots)) await rm(join(snapshots, file), { force: true });
  return heap;
}

describe('subject limits (e2e)', () => {
  const brokers: BrokerProcess[] = [];
  after(async () => {
    for (const b of brokers) await b.dispose();
  });

  it('refuses a publish to a new subject beyond BROKER_MAX_SUBJECTS with RESOURCE_EXHAUSTED SUBJECT_LIMIT, also after a restart; existing subjects go on', async () => {
    // One process: with several workers each holds the share of BROKER_MAX_SUBJECTS of the partitions it owns
    // (README, Workers and partitions), so "the fourth subject" is not a per-broker count there.
    let broker = await startBrokerProcess({ BROKER_MAX_SUBJECTS: '3', BROKER_WORKERS: '1' });
    brokers.push(broker);
    let client = broker.client();
    for (const subject of ['a', 'b', 'c']) assert.equal(await publish(client, subject, 'one'), 1);
    const refused = failure(
      await publish(client, 'd', 'one').then(
        () => assert.fail('d was created'),
        (e) => e,
      ),
    );
    assert.deepEqual(refused, {
      code: status.RESOURCE_EXHAUSTED,
      reason: 'SUBJECT_LIMIT',
      message:
        'cannot create subject "d": the broker holds 3 subjects, the limit (BROKER_MAX_SUBJECTS); publish to an existing subject',
    });
    assert.equal(await publish(client, 'a', 'two'), 2);

    // The count comes from the heads on disk at open.
    broker = await broker.restart();
    brokers.push(broker);
    client = broker.client();
    assert.equal(failure(await publish(client, 'e', 'one').catch((e: unknown) => e)).reason, 'SUBJECT_LIMIT');
    assert.equal(await publish(client, 'b', 'two'), 2);
  });

  it('keeps broker RSS bounded while 20,000 subjects are created by 20 PublishBatch calls, and ids continue for an evicted subject', async () => {
    const broker = await startBrokerProcess({ BROKER_FSYNC: 'never', BROKER_SUBJECT_CACHE: '100' });
    brokers.push(broker);
    const pid = broker.child.pid ?? assert.fail('no pid');
    const client = broker.client();
    await publish(client, 'warm-up', 'x');
    const before = await rssOf(pid);
    for (let call = 0; call < 20; call++) {
      const subjects = Array.from({ length: 1000 }, (_, i) => `many.${call}.${i}`);
      const ids = await publishBatch(client, subjects);
      assert.ok(ids.every((id) => id === 1));
    }
    const grown = (await rssOf(pid)) - before;
    console.log(`broker RSS grew by ${(grown / MiB).toFixed(1)} MiB for 20,000 subjects`);
    // The first subject was evicted long ago; its head on disk keeps its ids going.
    assert.equal(await publish(client, 'many.0.0', 'again'), 2);
    assert.equal((await fetchMessage(client, 'many.0.0', 1)).body.toString(), 'x');
    assert.ok(grown < 80 * MiB, `broker RSS grew by ${(grown / MiB).toFixed(1)} MiB for 20,000 subjects`);
  });

  it('keeps no per-subject state of idle subjects on the heap: 40,000 new subjects leave the heap after GC where it was', async () => {
    const snapshots = await mkdtemp(join(tmpdir(), 'broker-heap-'));
    const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}`;
    // One process: the heap snapshot (SIGUSR2) and the heap figure are one process's.
    const broker = await startBrokerProcess({
      BROKER_WORKERS: '1',
      BROKER_FSYNC: 'never',
      BROKER_SUBJECT_CACHE: '100',
      NODE_OPTIONS: nodeOptions.trim(),
    });
    brokers.push(broker);
    const client = broker.client();
    // Long names (200 bytes) make whatever is kept per subject show: about 0.25 KiB each with its map entry.
    const name = (call: number, i: number): string => `${'s'.repeat(180)}.${call}.${i}`;
    const create = async (from: number, to: number): Promise<void> => {
      for (let call = from; call < to; call++) {
        const ids = await publishBatch(
          client,
          Array.from({ length: 1000 }, (_, i) => name(call, i)),
        );
        assert.ok(ids.every((id) => id === 1));
      }
    };
    try {
      await create(0, 5); // warm-up: code compiled, caches and pools at their working size
      const before = await heapAfterGc(broker, snapshots);
      await create(5, 45);
      const grown = (await heapAfterGc(broker, snapshots)) - before;
      console.log(`broker heap after GC grew by ${(grown / MiB).toFixed(2)} MiB for 40,000 subjects`);
      assert.equal(await publish(client, name(0, 0), 'again'), 2);
      // Before, the side file's marks alone kept ~9 MiB of these subjects on the heap for ever.
      assert.ok(grown < 3 * MiB, `broker heap after GC grew by ${(grown / MiB).toFixed(2)} MiB for 40,000 subjects`);
    } finally {
      await rm(snapshots, { recursive: true, force: true });
    }
  });
});
