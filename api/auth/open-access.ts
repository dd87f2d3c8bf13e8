import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BrokerConfig } from '../../core/index.js';
import { IpcLeaseChannel } from '../workers/quota-channel.js';
import { AccessControl, type LimitFactory } from './access-control.js';
import { LeasedLimit } from './leased-limit.js';

/**
 * The broker's access control from BROKER_AUTH_FILE, or none (every call allowed) when it is unset. A worker of
 * several leases its quotas' tokens from the primary, so each quota holds for the whole broker.
 */
export async function openAccess(
  config: BrokerConfig,
  registry: Registry,
  logger: Logger,
): Promise<AccessControl | undefined> {
  if (config.authFile === undefined) return undefined;
  const access = await AccessControl.open({ path: config.authFile, registry, logger, ...leasedInWorkers() });
  logger.info({ authFile: config.authFile }, 'calls are authenticated and authorized by the auth file');
  return access;
}

/**
 * SIGHUP re-reads the auth file (a revoked token is refused from the next call on; open streams stay). With several
 * workers the primary forwards the signal to each, and each re-reads the file itself.
 */
export function reloadOnSighup(reload: () => Promise<unknown>): void {
  process.on('SIGHUP', () => void reload());
}

function leasedInWorkers(): { limits?: LimitFactory } {
  if (!cluster.isWorker) return {};
  const channel = new IpcLeaseChannel();
  return { limits: (key, rate) => new LeasedLimit(key, rate, channel) };
}
