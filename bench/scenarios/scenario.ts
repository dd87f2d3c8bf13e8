// The contract between bench/run.ts and a scenario module.
import type { ScenarioResult } from '../support/result.js';

/** Options every scenario accepts (the runner reads them; a scenario's strict parser must not reject them). */
export const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  save: { type: 'boolean', default: false },
  'save-as': { type: 'string' },
} as const;

export interface Scenario {
  /** Runs with the arguments after the scenario's name and returns what it measured. */
  run(args: string[]): Promise<ScenarioResult>;
}
