// Issue 11's memory findings, scaled down: each load ran the broker's RSS up by a multiple of what it asked for;
// with the edge budgets the broker's peak RSS (VmHWM from /proc) stays bounded and clients see a documented answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBrokerProcess, type BrokerProcess } from '../test-support/broker-process.js';
import { hugePage, publishFlood } from '../test-support/memory-loads.js';
import { rawNonReadingSubscribers } from '../test-support/raw-subscribers.js';
import { MiB, mib } from '../test-support/rss.js';

describe('memory budgets at the gRPC edge', () => {
  describe('when a FetchRange asks for 64 MiB of a subject holding 64 MiB', () => {
    let broker: BrokerProcess;
    before(async () => (broker = await startBrokerProcess({ BROKER_MAX_RESPONSE_BYTES: String(4 * MiB) })));
    after(() => broker.dispose());

    it('should answer a page of at most BROKER_MAX_RESPONSE_BYTES, say where to go on, and keep RSS bounded', async (t) => {
      const load = await hugePage(broker);
      t.diagnostic(`broker RSS peak grew by ${mib(load.rssPeakGrowth)} (peak ${mib(load.rssPeak)})`);
      assert.ok(load.pageBytes <= 4 * MiB, `page of ${mib(load.pageBytes)}`);
      assert.ok(load.pageBytes > 0);
      assert.equal(load.nextId, load.pageBytes / MiB + 1, 'next_id is the first record not in the page');
      assert.equal(load.pagedRecords, load.stored, 'paging on with next_id reads every record');
      assert.ok(load.rssPeakGrowth < 48 * MiB, `RSS peak grew by ${mib(load.rssPeakGrowth)}`);
    });
  });

  describe('when 200 subscribers do not read and a 1 MiB message is published', () => {
    let broker: BrokerProcess;
    before(async () => (broker = await startBrokerProcess({ BROKER_SUBSCRIBER_BUFFER_BYTES: String(8 * MiB) })));
    after(() => broker.dispose());

    // Raw HTTP/2 clients whose paused streams keep a 64 KiB window, so the rest stays queued in the broker. Before the
    // budget the peak grew by about 1 MiB per subscriber (+208 MiB); with it, by 48-60 MiB at 100 to 400 subscribers.
    // Before the reset of ended streams, a subscriber that read got nothing while the ended non-readers held the room.
    it('should end the slowest (SLOW_CONSUMER or a reset), lose nothing on resume, and bound RSS', async (t) => {
      const load = await rawNonReadingSubscribers(broker);
      t.diagnostic(`broker RSS peak grew by ${mib(load.rssPeakGrowth)} (peak ${mib(load.rssPeak)})`);
      assert.ok(load.rssPeakGrowth < 120 * MiB, `RSS peak grew by ${mib(load.rssPeakGrowth)}`);
      const ended = load.outcomes.filter((o) => o.ending !== 'OK');
      t.diagnostic(`endings: ${[...new Set(load.outcomes.map((o) => o.ending))].join(', ')}; ${ended.length} ended`);
      assert.ok(ended.length > 0, 'some subscribers were ended');
      assert.equal(load.readerReceived, load.published, 'a subscriber that reads got every message meanwhile');
      for (const o of load.outcomes) {
        assert.ok(['OK', 'SLOW_CONSUMER', 'RESET'].includes(o.ending), o.ending);
        assert.deepEqual(
          o.received,
          o.received.map((_, i) => i + 1),
          'every subscriber got a gap-free prefix',
        );
        if (o.ending === 'OK') assert.equal(o.received.length, load.published);
        if (o.ending === 'SLOW_CONSUMER')
          assert.match(o.message, new RegExp(`last delivered id ${o.received.length}\\b`), `got ${o.received.length}`);
      }
      assert.equal(
        load.resumedComplete,
        ended.length,
        'each ended subscriber resumed from its last id + 1 got the rest',
      );
    });
  });

  describe('when 96 unary Publish calls of 1 MiB arrive at once on one connection', () => {
    let broker: BrokerProcess;
    before(
      async () =>
        (broker = await startBrokerProcess({
          BROKER_MAX_INFLIGHT_PUBLISH_BYTES: String(8 * MiB),
          BROKER_MAX_STREAMS_PER_CONNECTION: '16',
        })),
    );
    after(() => broker.dispose());

    it('should refuse some with OVERLOADED, keep every acknowledged one and bound RSS', async (t) => {
      const load = await publishFlood(broker);
      t.diagnostic(`broker RSS peak grew by ${mib(load.rssPeakGrowth)} (peak ${mib(load.rssPeak)})`);
      assert.ok((load.refused.get('OVERLOADED') ?? 0) > 0, `refused: ${JSON.stringify([...load.refused])}`);
      assert.equal(load.acked + (load.refused.get('OVERLOADED') ?? 0), load.sent, 'only OVERLOADED refusals');
      assert.equal(load.lost, 0);
      assert.equal(load.unexpected, 0, 'a refused publish appended nothing');
      assert.ok(load.rssPeakGrowth < 200 * MiB, `RSS peak grew by ${mib(load.rssPeakGrowth)}`);
    });
  });
});
