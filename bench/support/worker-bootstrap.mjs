// Worker threads do not inherit the tsx loader on Node 20: register it in the thread, then load the TypeScript worker.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.__entry);
