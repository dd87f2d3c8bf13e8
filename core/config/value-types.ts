import ms from 'ms';
import { ConfigError } from '../errors.js';

/**
 * How one setting's text becomes its typed value. Each kind holds its own rule, so the loader parses every variable
 * exactly once and a ConfigError always names the variable and the rule it breaks.
 */
export interface ValueType<V> {
  /** The value of a variable that is set (flags count as set), or a ConfigError. */
  parse(raw: string, variable: string): V;
  /** The value as a user would write it, for help and docs; undefined when the value means "unset". */
  render(value: V): string | undefined;
}

export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): ValueType<number> {
  return {
    parse(raw, variable) {
      const text = raw.trim();
      const value = Number(text);
      if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
        throw new ConfigError(variable, `"${raw}" is not an integer`);
      }
      if (value < min || value > max) throw new ConfigError(variable, `${value} is out of range [${min}, ${max}]`);
      return value;
    },
    render: (value) => String(value),
  };
}

const NOT_A_DURATION = 'is not a duration (examples: 30s, 15m, 12h, 7d, or a number of seconds)';

/** Parses a duration to ms: a plain integer is seconds, otherwise a unit is required (ms, s, m, h, d). */
export function parseDuration(variable: string, raw: string): number {
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // ms() also reads "1.5 hours" and negative values; the broker takes only a number and a unit.
  const value = /^\d+(\.\d+)?\s*[a-z]+$/i.test(text) ? ms(text as ms.StringValue) : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(variable, `"${raw}" ${NOT_A_DURATION}`);
  }
  return Math.round(value);
}

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** The shortest exact spelling of a duration that parseDuration reads back: 604800000 -> 7d, 90000 -> 90s. */
export function formatDuration(valueMs: number): string {
  if (valueMs === 0) return '0';
  for (const [unit, size] of UNITS) if (valueMs % size === 0) return `${valueMs / size}${unit}`;
  return `${valueMs}ms`;
}

/** A duration in ms; `minMs` rules out values the broker cannot run with (a 0 ms timer). */
export function duration(minMs = 0): ValueType<number> {
  return {
    parse(raw, variable) {
      const value = parseDuration(variable, raw);
      if (value < minMs) throw new ConfigError(variable, `"${raw}" is shorter than the minimum of ${minMs}ms`);
      return value;
    },
    render: formatDuration,
  };
}

/** A rule a text value must follow, with the words that explain it in an error. */
export interface TextRule {
  readonly pattern: RegExp;
  readonly says: string;
}

export function text(rule?: TextRule): ValueType<string> {
  return {
    parse(raw, variable) {
      const value = raw.trim();
      if (value === '') throw new ConfigError(variable, 'must not be empty');
      if (rule !== undefined && !rule.pattern.test(value)) throw new ConfigError(variable, `"${value}" ${rule.says}`);
      return value;
    },
    render: (value) => value,
  };
}

export function oneOf<T extends string>(values: readonly T[]): ValueType<T> {
  return {
    parse(raw, variable) {
      const value = raw.trim();
      const found = values.find((v) => v === value);
      if (found === undefined) throw new ConfigError(variable, `"${raw}" is not one of ${values.join(' | ')}`);
      return found;
    },
    render: (value) => value,
  };
}

/** An optional URL; empty means unset, as it does for a variable that is not there. */
export function optionalUrl(rule: TextRule): ValueType<string | undefined> {
  return {
    parse(raw, variable) {
      const value = raw.trim();
      if (value === '') return undefined;
      if (!rule.pattern.test(value)) throw new ConfigError(variable, `"${value}" ${rule.says}`);
      return value;
    },
    render: (value) => value,
  };
}

/** An optional text following a rule; empty means unset, as it does for a variable that is not there. */
export function optionalText(rule: TextRule): ValueType<string | undefined> {
  return {
    parse(raw, variable) {
      const value = raw.trim();
      if (value === '') return undefined;
      if (!rule.pattern.test(value)) throw new ConfigError(variable, `"${value}" ${rule.says}`);
      return value;
    },
    render: (value) => value,
  };
}

/** A comma-separated list of host or host:port; empty means none. */
export function hostList(): ValueType<readonly string[]> {
  return {
    parse(raw, variable) {
      const hosts = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      for (const host of hosts) {
        if (!/^[A-Za-z0-9.\-_[\]:]+(:\d{1,5})?$/.test(host)) {
          throw new ConfigError(variable, `"${host}" is not host or host:port`);
        }
      }
      return hosts;
    },
    render: (value) => (value.length === 0 ? undefined : value.join(',')),
  };
}

/** An integer, or unset (empty text means unset, as for a variable that is not there). */
export function optionalInteger(min: number, max: number): ValueType<number | undefined> {
  const whole = integer(min, max);
  return {
    parse: (raw, variable) => (raw.trim() === '' ? undefined : whole.parse(raw, variable)),
    render: (value) => (value === undefined ? undefined : String(value)),
  };
}

/** A count of processes: a positive integer, or `auto` for the cores this process may use. */
export function processCount(max: number): ValueType<number | 'auto'> {
  const whole = integer(1, max);
  return {
    parse: (raw, variable) => (raw.trim() === 'auto' ? 'auto' : whole.parse(raw, variable)),
    render: (value) => String(value),
  };
}

/** A fraction from 0 to 1 (a sampling ratio): a decimal number such as 0.01, or a percentage such as 1%. */
export function ratio(): ValueType<number> {
  return {
    parse(raw, variable) {
      const text = raw.trim();
      const percent = text.endsWith('%');
      const number = percent ? text.slice(0, -1).trim() : text;
      const value = Number(number) / (percent ? 100 : 1);
      if (!/^(\d+(\.\d*)?|\.\d+)$/.test(number) || !Number.isFinite(value) || value > 1) {
        throw new ConfigError(variable, `"${raw}" is not a ratio from 0 to 1 (examples: 0.01, 1%, 1)`);
      }
      return value;
    },
    render: (value) => String(value),
  };
}
