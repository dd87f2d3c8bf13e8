import { Metadata } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { RequestGuard } from '../grpc/validate.js';
import { AccessControl } from './access-control.js';
import { CallGuards } from './call-guards.js';
import { CallerGuard } from './caller-guard.js';

const TOKEN = 'a-token-of-the-auth-file';
const sha = (t: string): string => `sha256:${createHash('sha256').update(t).digest('hex')}`;

describe('call guards', () => {
  let dir = '';
  let guards: CallGuards;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'call-guards-'));
    const path = join(dir, 'auth.yaml');
    const file = `identities:\n  - name: holder\n    tokens: ["${sha(TOKEN)}"]\n    permissions: { publish: { allow: [">"] } }\n`;
    await writeFile(path, file);
    const access = await AccessControl.open({ path, registry: new Registry(), logger: pino({ level: 'silent' }) });
    guards = new CallGuards(new RequestGuard(1024), 1024, access);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  // grpc-js's getAuthContext() parses the client certificate (getPeerCertificate, about 17 µs here) on each call.
  it('should authenticate a bearer token without asking the connection for its certificate', async () => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${TOKEN}`);
    let asked = 0;
    const guard = await guards.of({ metadata, getAuthContext: () => (asked++, {}) }, 'Publish');
    assert.ok(guard instanceof CallerGuard);
    assert.equal(guard.caller.identity.name, 'holder');
    assert.equal(asked, 0);
  });

  it('should ask the connection when there is no token', async () => {
    let asked = 0;
    const refused = await Promise.resolve(
      guards.of({ metadata: new Metadata(), getAuthContext: () => (asked++, {}) }, 'Publish'),
    ).then(
      () => 'accepted',
      (err: Error) => err.message,
    );
    assert.match(refused, /no credentials/);
    assert.equal(asked, 1);
  });
});
