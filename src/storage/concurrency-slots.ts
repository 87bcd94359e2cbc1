export interface SlotLease {
  concurrentId: number;
  projectConcurrentId: number;
  release(): Promise<void>;
}

export function leaseSlots(_o: {
  stateDir: string;
  projectKey: string;
  signal?: AbortSignal;
}): Promise<SlotLease> {
  throw new Error("not implemented");
}
