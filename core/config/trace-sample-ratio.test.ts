import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './load-config.js';

describe('BROKER_TRACE_SAMPLE_RATIO', () => {
  it('should be 0 (tracing off) when unset', () => {
    assert.equal(loadConfig({}).traceSampleRatio, 0);
  });

  it('should take a fraction or a percentage', () => {
    assert.equal(loadConfig({ BROKER_TRACE_SAMPLE_RATIO: '0.01' }).traceSampleRatio, 0.01);
    assert.equal(loadConfig({ BROKER_TRACE_SAMPLE_RATIO: '1%' }).traceSampleRatio, 0.01);
    assert.equal(loadConfig({ BROKER_TRACE_SAMPLE_RATIO: '1' }).traceSampleRatio, 1);
    assert.equal(loadConfig({ BROKER_TRACE_SAMPLE_RATIO: '100%' }).traceSampleRatio, 1);
  });

  describe('when the value is not a ratio from 0 to 1', () => {
    for (const raw of ['1.5', '-0.1', 'half', '', '150%', '1e-2'])
      it(`should refuse ${JSON.stringify(raw)}, naming the variable and the rule`, () => {
        assert.throws(
          () => loadConfig({ BROKER_TRACE_SAMPLE_RATIO: raw }),
          new RegExp(
            `^ConfigError: BROKER_TRACE_SAMPLE_RATIO: "${raw.replace('.', '\\.')}" is not a ratio from 0 to 1`,
          ),
        );
      });
  });
});
