import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../core/index.js';
import { AccessRules } from './access-rules.js';
import { parseAuthFile } from './auth-file.js';

const HASH = `sha256:${'a'.repeat(64)}`;

function refusal(text: string): string {
  try {
    parseAuthFile(text, 'auth.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  return assert.fail('the file was accepted');
}

describe('auth file', () => {
  describe('when a field is wrong', () => {
    it('should name the file, line, column and field', () => {
      const text = 'identities:\n  - name: a\n    permissions:\n      publish: { allow: ["orders.>.x"] }\n';
      assert.equal(
        refusal(text),
        'BROKER_AUTH_FILE: auth.yaml:4:26: identities[0].permissions.publish.allow[0]: "orders.>.x": ">" may only be the last token',
      );
    });

    it('should refuse an unknown key, a malformed token and a duplicate name', () => {
      assert.match(refusal('identities:\n  - name: a\n    tokenz: []\n'), /auth\.yaml:2:5: identities\[0\]: .*tokenz/);
      assert.match(
        refusal('identities:\n  - name: a\n    tokens: ["abc"]\n'),
        /identities\[0\]\.tokens\[0\]: a token is/,
      );
      assert.match(
        refusal('identities:\n  - name: a\n  - name: a\n'),
        /auth\.yaml:3:11: identities\[1\]\.name: "a" is also/,
      );
    });

    it('should say where a YAML syntax error is', () => {
      assert.match(refusal('identities: [\n'), /^BROKER_AUTH_FILE: auth\.yaml:\d+:\d+: /);
    });
  });

  describe('when the rules are read', () => {
    it('should let deny win over allow and refuse what nothing allows', () => {
      const file = parseAuthFile(
        `identities:\n  - name: a\n    tokens: ["${HASH}"]\n    permissions:\n      publish: { allow: ["orders.>"], deny: ["orders.secret"] }\n`,
        'auth.yaml',
      );
      const a = new AccessRules(file).byName('a') ?? assert.fail('no identity a');
      assert.equal(a.permissions.publish.allows('orders.eu'), true);
      assert.equal(a.permissions.publish.allows('orders.secret'), false);
      assert.equal(a.permissions.subscribe.allows('orders.eu'), false);
    });
  });
});
