// The broker's own pauses over a run, read from its /metrics (prom-client's default metrics): its event loop's delay
// (prom-client resets that histogram at each scrape, so a scrape before the run and one after give the run's) and
// its garbage collections by kind. Beside the scheduling probe (sched-probe.ts) it says whether a tail is the
// broker's loop or GC, or the machine's scheduling that every process in the run waits on.

interface GcKind {
  count: number;
  seconds: number;
  /** Pauses longer than 1 ms (prom-client's first bucket). */
  over1ms: number;
}

interface Scrape {
  readonly gc: Map<string, GcKind>;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
}

async function scrape(port: number): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const gc = new Map<string, GcKind>();
  const kind = (k: string): GcKind => {
    let g = gc.get(k);
    if (g === undefined) gc.set(k, (g = { count: 0, seconds: 0, over1ms: 0 }));
    return g;
  };
  const metric = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  for (const m of text.matchAll(
    /^nodejs_gc_duration_seconds_(sum|count|bucket)\{(?:le="([^"]+)",)?kind="(\w+)"\} (\S+)/gm,
  )) {
    const [, part, le, k = '', value] = m;
    const g = kind(k);
    if (part === 'sum') g.seconds = Number(value);
    else if (part === 'count') g.count = Number(value);
    else if (le === '0.001') g.over1ms = -Number(value);
  }
  for (const g of gc.values()) g.over1ms += g.count;
  return {
    gc,
    lagP99Ms: metric('nodejs_eventloop_lag_p99_seconds') * 1000,
    lagMaxMs: metric('nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

export interface BrokerPauses {
  /** Ends the window and says what the broker's loop and GC did in it, as one note. */
  stop(): Promise<string>;
}

/** Starts a window on the broker's /metrics at `port` (the broker started with BROKER_METRICS_PORT). */
export async function watchBrokerPauses(port: number): Promise<BrokerPauses> {
  const before = await scrape(port);
  return {
    async stop() {
      const after = await scrape(port);
      const parts: string[] = [];
      for (const [k, a] of after.gc) {
        const b = before.gc.get(k) ?? { count: 0, seconds: 0, over1ms: 0 };
        const n = a.count - b.count;
        if (n > 0)
          parts.push(`${k} ${n} (${((a.seconds - b.seconds) * 1000).toFixed(0)} ms, ${a.over1ms - b.over1ms} > 1 ms)`);
      }
      return `broker event-loop delay (a 10 ms timer, the 10 ms included) p99 ${after.lagP99Ms.toFixed(1)} ms, max ${after.lagMaxMs.toFixed(1)} ms; GC ${parts.join(', ') || 'none'}`;
    },
  };
}
