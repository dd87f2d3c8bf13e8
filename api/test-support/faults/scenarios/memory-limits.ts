// Issue 11's memory loads as fault rows: what the client saw, the broker's RSS peak (VmHWM), acked records lost and
// duplicates after the client retried what was refused (a refused publish must have appended nothing).
import { startBrokerProcess } from '../../broker-process.js';
import { hugePage, publishFlood } from '../../memory-loads.js';
import { rawNonReadingSubscribers } from '../../raw-subscribers.js';
import { MiB, mib } from '../../rss.js';
import type { FaultRow } from '../fault-row.js';

export async function hugeFetchRange(): Promise<FaultRow> {
  const broker = await startBrokerProcess({ BROKER_MAX_RESPONSE_BYTES: String(4 * MiB) });
  try {
    const load = await hugePage(broker);
    const broken: string[] = [];
    if (load.pageBytes > 4 * MiB) broken.push(`a page of ${mib(load.pageBytes)} passed the 4 MiB cap`);
    if (load.pagedRecords !== load.stored) broken.push(`paging on read ${load.pagedRecords} of ${load.stored}`);
    return {
      fault: 'FetchRange max_bytes = 64 MiB on a 64 MiB subject (cap 4 MiB)',
      clientSaw: `a ${mib(load.pageBytes)} page, next_id ${load.nextId}; ${load.pages} pages to read it all`,
      acked: load.stored,
      lost: load.stored - load.pagedRecords,
      idsReused: 0,
      recovery: 'none needed',
      promise: 'none lost',
      rssPeakBytes: load.rssPeak,
      broken,
    };
  } finally {
    await broker.dispose();
  }
}

export async function slowSubscribers(): Promise<FaultRow> {
  const broker = await startBrokerProcess({ BROKER_SUBSCRIBER_BUFFER_BYTES: String(8 * MiB) });
  try {
    const load = await rawNonReadingSubscribers(broker);
    const count = (ending: string): number => load.outcomes.filter((o) => o.ending === ending).length;
    const [slow, reset, full] = [count('SLOW_CONSUMER'), count('RESET'), count('OK')];
    const ended = load.outcomes.length - full;
    const broken: string[] = [];
    if (ended === 0) broken.push('no subscriber was ended');
    if (slow + reset < ended) broken.push(`${ended - slow - reset} subscribers ended otherwise`);
    if (load.resumedComplete !== ended) broken.push(`${ended - load.resumedComplete} resumed with a gap`);
    if (load.readerReceived !== load.published) broken.push('a subscriber that reads was stalled by the others');
    return {
      fault: '200 raw HTTP/2 subscribers not reading, one 1 MiB publish (budget 8 MiB)',
      clientSaw: `${slow} SLOW_CONSUMER naming their last id, ${reset} reset (RESOURCE_EXHAUSTED), ${full} served in full`,
      acked: load.published * ended,
      lost: load.published * (ended - load.resumedComplete),
      idsReused: 0,
      recovery: 'resubscribe from last id + 1',
      promise: 'none lost',
      rssPeakBytes: load.rssPeak,
      duplicatesAfterRetries: 0,
      broken,
    };
  } finally {
    await broker.dispose();
  }
}

export async function publishFloodOnOneConnection(): Promise<FaultRow> {
  const broker = await startBrokerProcess({
    BROKER_MAX_INFLIGHT_PUBLISH_BYTES: String(8 * MiB),
    BROKER_MAX_STREAMS_PER_CONNECTION: '16',
    BROKER_TAIL_CACHE_BYTES: String(4 * MiB),
  });
  try {
    const load = await publishFlood(broker);
    const refused = [...load.refused].map(([reason, n]) => `${n} ${reason}`).join(', ');
    const broken: string[] = [];
    if (load.lost > 0) broken.push(`${load.lost} acked records lost`);
    if (load.unexpected !== 0) broken.push(`${load.unexpected} refused publishes stored anyway`);
    return {
      fault: '96 concurrent 1 MiB Publish calls on one connection (budget 8 MiB)',
      clientSaw: `${load.acked} acked, ${refused || 'none refused'}`,
      acked: load.acked,
      lost: load.lost,
      idsReused: 0,
      recovery: 'retry the OVERLOADED calls',
      promise: 'none lost',
      rssPeakBytes: load.rssPeak,
      duplicatesAfterRetries: Math.max(0, load.unexpected),
      broken,
    };
  } finally {
    await broker.dispose();
  }
}
