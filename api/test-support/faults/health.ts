// grpc.health.v1 Check against a broker process, as a Kubernetes probe would ask it.
import { credentials, makeClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

type HealthClient = Client & {
  check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
};

const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health');

/** The status of `service` ('' = the server), or the error's text when the check itself fails. */
export async function healthStatus(address: string, service = ''): Promise<string> {
  const client = new Health(address, credentials.createInsecure()) as unknown as HealthClient;
  try {
    return await new Promise<string>((resolve) =>
      client.check({ service }, (err, res) => resolve(err ? `error ${err.code}` : res.status)),
    );
  } finally {
    client.close();
  }
}
