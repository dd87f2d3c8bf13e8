// Damaged LevelDB write-ahead logs (issue 10): a broker killed after acknowledging publishes, its WAL torn or
// overwritten, then restarted. No id may be reused, every acknowledged id is served as published or answers
// DATA_LOSS (never EXPIRED_ID or INVALID_ID), and `broker verify` names the loss and exits 4.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { partitionDirOf } from '../../log/index.js';
import type { BrokerClient } from '../../proto/gen/broker.js';
import { currentWal, overwriteBytes, truncateFile } from '../test-support/damage.js';
import { failure, fetchMessage, publish, startBrokerProcess } from '../test-support/broker-process.js';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const DATA_LOSS = 15;
const SUBJECT = 'orders';
const ACKED = 600;

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const bodyOf = (i: number): string => `message ${i} `.padEnd(120, '.');

/** Publishes ACKED messages, 16 in flight; resolves with every acknowledged id and the body it was published with. */
async function publishAll(client: BrokerClient): Promise<Map<number, string>> {
  const acked = new Map<number, string>();
  for (let i = 0; i < ACKED; i += 16) {
    const ids = await Promise.all(
      Array.from({ length: Math.min(16, ACKED - i) }, (_, k) => publish(client, SUBJECT, bodyOf(i + k))),
    );
    ids.forEach((id, k) => acked.set(id, bodyOf(i + k)));
  }
  return acked;
}

interface Outcome {
  served: number;
  lost: number;
  nextId: number;
  verify: { code: number; stdout: string; stderr: string };
}

/** Publishes, SIGKILLs, damages the WAL (of SUBJECT's partition), restarts, then checks every acked id, the next id and `broker verify`. */
async function afterDamage(damage: (dataDir: string) => Promise<void>): Promise<Outcome> {
  const dataDir = await mkdtemp(join(tmpdir(), 'broker-high-water-'));
  try {
    const first = await startBrokerProcess({ BROKER_FSYNC: 'batch' }, dataDir);
    const acked = await publishAll(first.client());
    await first.stop('SIGKILL');
    await first.dispose();
    await damage(dataDir);
    const second = await startBrokerProcess({ BROKER_FSYNC: 'batch' }, dataDir);
    let served = 0;
    let lost = 0;
    let nextId = 0;
    try {
      const client = second.client();
      for (const [id, body] of acked) {
        try {
          const message = await fetchMessage(client, SUBJECT, id);
          assert.equal(message.body.toString(), body, `id ${id} served with another body`);
          served += 1;
        } catch (err) {
          const f = failure(err);
          assert.equal(f.reason, 'DATA_LOSS', `id ${id}: ${f.reason} ${f.message}`);
          assert.equal(f.code, DATA_LOSS);
          lost += 1;
        }
      }
      nextId = await publish(client, SUBJECT, 'after the damage');
      assert.ok(nextId > Math.max(...acked.keys()), `id ${nextId} reused (acked up to ${Math.max(...acked.keys())})`);
    } finally {
      await second.stop('SIGTERM');
      await second.dispose();
    }
    return { served, lost, nextId, verify: await runCli(['verify', dataDir]) };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe('a broker whose LevelDB write-ahead log was damaged', () => {
  describe('when the WAL is truncated to 60% after a SIGKILL', () => {
    let outcome: Outcome;
    before(async () => {
      outcome = await afterDamage(
        async (dir) => void (await truncateFile(await currentWal(await partitionDirOf(dir, SUBJECT)), 0.6)),
      );
    });
    it('should lose acknowledged ids as DATA_LOSS, serve the rest as published, and never reuse an id', () => {
      assert.ok(outcome.lost > 0, 'the damage lost nothing: the test proves nothing');
      assert.equal(outcome.served + outcome.lost, ACKED);
      assert.ok(outcome.nextId > ACKED);
    });
    it('should make broker verify name the lost ids and exit 4', () => {
      assert.equal(outcome.verify.code, 4, outcome.verify.stdout + outcome.verify.stderr);
      assert.match(outcome.verify.stdout, /acknowledged and lost/);
    });
  });

  describe('when 16 bytes in the middle of the WAL are overwritten after a SIGKILL', () => {
    let outcome: Outcome;
    before(async () => {
      outcome = await afterDamage(async (dir) =>
        overwriteBytes(await currentWal(await partitionDirOf(dir, SUBJECT)), 0.5, 16),
      );
    });
    it('should answer DATA_LOSS for the lost ids, never EXPIRED_ID, and never reuse an id', () => {
      assert.ok(outcome.lost > 0, 'the damage lost nothing: the test proves nothing');
      assert.equal(outcome.served + outcome.lost, ACKED);
      assert.ok(outcome.nextId > ACKED);
    });
    it('should make broker verify report the damage and exit 4', () => {
      assert.equal(outcome.verify.code, 4, outcome.verify.stdout + outcome.verify.stderr);
      assert.match(outcome.verify.stdout, /lost/);
    });
  });
});
