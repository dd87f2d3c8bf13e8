/**
 * Asked as a group commit of appends is about to be written (LogOptions.writeGate): an error when the appends may no
 * longer be written, for the append of `subject`.
 */
export type WriteGate = (subject: string) => Error | undefined;

interface GatedAppend {
  readonly state: { readonly subject: string };
  reject(err: unknown): void;
}

/**
 * Asks the gate for a batch's appends: when it refuses, every append is rejected with its subject's error and the
 * error is returned (the batch must then not be written); undefined when the batch may be written.
 */
export function refuseGated(gate: WriteGate | undefined, appends: readonly GatedAppend[]): Error | undefined {
  const first = appends[0];
  const refused = gate === undefined || first === undefined ? undefined : gate(first.state.subject);
  if (refused !== undefined) for (const a of appends) a.reject(gate?.(a.state.subject) ?? refused);
  return refused;
}
