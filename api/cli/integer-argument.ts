import { InvalidArgumentError, REASONS } from '../../core/index.js';

/**
 * A bad command-line value. It is the core InvalidArgumentError (reason INVALID_ARGUMENT), with the two fields
 * commander looks for: commander prints an argument parser's error, with the option it belongs to, only when its
 * code is 'commander.invalidArgument'; any other error would escape the parse unexplained.
 */
export class CliArgumentError extends InvalidArgumentError {
  readonly code = 'commander.invalidArgument';
  readonly exitCode = REASONS.INVALID_ARGUMENT.exitCode;
  constructor(field: string, message: string) {
    super(field, message);
    this.name = 'CliArgumentError';
  }
}

/** A commander argument parser for an integer of at least `min`, named `name` in its error. */
export function integerArgument(name: string, min: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new CliArgumentError(name, `${name} must be an integer >= ${min}, got "${raw}"`);
    }
    return n;
  };
}
