// The fault-injection scenarios (npm run test:faults), in the order of the table. Each runs against real broker
// processes and resolves with its row; `needs` names the test server it stops and starts.
import type { FaultRow } from './fault-row.js';
import { cqlDownAtStart } from './scenarios/cql-down-at-start.js';
import { tableByteFlipped, tableMissing, walOverwritten, walTruncated } from './scenarios/damaged-files.js';
import { diskLimits } from './scenarios/disk-limits.js';
import { fullDisk } from './scenarios/full-disk.js';
import { hugeFetchRange, publishFloodOnOneConnection, slowSubscribers } from './scenarios/memory-limits.js';
import { redisStopped } from './scenarios/redis-down.js';
import { clientRetriesAfterTimeouts } from './scenarios/retry-after-timeout.js';
import { sigkillUnderLoad } from './scenarios/sigkill.js';
import { silentSocketFlood } from './scenarios/silent-sockets.js';

export interface FaultScenario {
  readonly name: string;
  readonly run: () => Promise<FaultRow>;
}

export const SCENARIOS: readonly FaultScenario[] = [
  { name: 'SIGKILL under load', run: sigkillUnderLoad },
  { name: '16 bytes overwritten in the WAL', run: walOverwritten },
  { name: 'WAL truncated to 60%', run: walTruncated },
  { name: 'one byte flipped in a table file', run: tableByteFlipped },
  { name: 'a missing table file', run: tableMissing },
  { name: 'full disk, then freed', run: fullDisk },
  { name: 'disk fills up (limits)', run: diskLimits },
  { name: 'Redis stopped', run: redisStopped },
  { name: 'CQL server unreachable at start', run: cqlDownAtStart },
  { name: 'FetchRange asking for 64 MiB', run: hugeFetchRange },
  { name: 'subscribers that do not read', run: slowSubscribers },
  { name: 'concurrent 1 MiB publishes on one connection', run: publishFloodOnOneConnection },
  { name: 'silent sockets against the connection limit', run: silentSocketFlood },
  { name: 'client retries after timeouts', run: clientRetriesAfterTimeouts },
];

export { decodeRow, encodeRow, renderTable, type FaultRow } from './fault-row.js';
