import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ConfigError } from '../../core/index.js';
import { RESERVED_FDS, connectionBudget, readFdLimit } from './fd-budget.js';

const silent = pino({ level: 'silent' });

describe('fd budget', () => {
  it('reads the soft open-file limit from a limits file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fd-budget-'));
    const file = join(dir, 'limits');
    await writeFile(
      file,
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
        'Max open files            512                  4096                 files     \n',
    );
    assert.equal(readFdLimit(file), 512);
    assert.equal(readFdLimit(join(dir, 'missing')), undefined);
    assert.ok((readFdLimit() ?? 1) > 0, 'this process has a limit or none');
  });

  it('keeps a limit that fits, lowers one that does not and refuses one that leaves no room', () => {
    const budget = { fdLimit: 512, levelDbFiles: 256 };
    assert.equal(connectionBudget(100, budget, silent), 100);
    assert.equal(connectionBudget(10_000, budget, silent), 512 - 256 - RESERVED_FDS);
    assert.equal(connectionBudget(10_000, { fdLimit: undefined, levelDbFiles: 256 }, silent), 10_000);
    assert.throws(
      () => connectionBudget(10_000, { fdLimit: 300, levelDbFiles: 256 }, silent),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.variable === 'BROKER_MAX_CONNECTIONS' &&
        /ulimit -n\) is 300, of which LevelDB keeps 256/.test(err.message),
    );
  });
});
