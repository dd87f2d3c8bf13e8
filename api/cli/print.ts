import type { MessageResponse, SubjectInfo } from '../../proto/gen/broker.js';

/** Prints what the client commands receive, as readable text or (with --json) one JSON object per line. */
export class Printer {
  constructor(private readonly json: () => boolean) {}

  message(m: MessageResponse): void {
    if (this.json()) {
      const { subject, id, publishedAtMs, expirationSeconds } = m;
      console.log(JSON.stringify({ subject, id, publishedAtMs, expirationSeconds, body: m.body.toString('utf8') }));
      return;
    }
    const when = new Date(m.publishedAtMs).toISOString();
    const expiry = m.expirationSeconds > 0 ? ` expiration=${m.expirationSeconds}s` : '';
    console.log(`[#${m.id}] ${m.subject} ${when}${expiry} (${m.body.length} B)\n${m.body.toString('utf8')}`);
  }

  subject(s: SubjectInfo): void {
    if (this.json()) {
      console.log(JSON.stringify(s));
      return;
    }
    const retention = s.retentionSeconds === 0 ? 'forever' : `${s.retentionSeconds}s`;
    const segments = `${s.segments} segments (${s.sealedSegments} sealed, ${s.replicatedSegments} replicated)`;
    console.log(
      `${s.subject}  ids ${s.firstId}..${s.lastId}  ${s.count} msgs  ${s.bytes} B  ${segments}  retention ${retention}` +
        (s.owner === '' ? '' : `  owner ${s.owner}`),
    );
  }

  ack(subject: string, id: number): void {
    console.log(this.json() ? JSON.stringify({ subject, id }) : `published ${subject} #${id}`);
  }
}
