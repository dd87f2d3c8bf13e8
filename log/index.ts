// The public entry point of log/.
import type { Log } from '../core/index.js';
import { LevelDbLog } from './leveldb-log.js';
import type { LogOptions } from './options.js';

export { logOptionsFromConfig, type LogOptions } from './options.js';
export { LEVELDB_MAX_OPEN_FILES } from './storage.js';
export { verifyDataDir, type VerifyReport } from './verify.js';

/** Opens (creating if needed) the segmented log in options.dataDir. */
export async function openLog(options: LogOptions): Promise<Log> {
  return LevelDbLog.open(options);
}
