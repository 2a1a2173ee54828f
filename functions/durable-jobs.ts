/**
 * Long work started from HTTP as a Durable job (not a function itself): start an instance
 * unless the same one is running, and the 202 answer with its check-status links (which carry
 * the durabletask_extension key as code=, so they work as they are). Backfills and training
 * sets start their jobs through here.
 */
import type { HttpResponseInit } from '@azure/functions';
import type { DurableClient } from 'durable-functions';

const RUNNING = new Set(['Running', 'Pending', 'ContinuedAsNew', 'Suspended']);

/**
 * Start `orchestration` as `instanceId` unless that instance is running: then the caller joins it.
 * `joinCompleted`: a completed instance is joined too (its result stands: train jobs), instead
 * of run again (backfills, whose data may have changed since); a failed one always runs again.
 */
export async function startOrJoin(
  client: DurableClient,
  orchestration: string,
  instanceId: string,
  input: unknown,
  o: { joinCompleted?: boolean } = {},
): Promise<'started' | 'joined'> {
  const existing = await client.getStatus(instanceId).catch(() => undefined);
  const status = existing ? String(existing.runtimeStatus) : undefined;
  if (status !== undefined && (RUNNING.has(status) || (o.joinCompleted === true && status === 'Completed')))
    return 'joined';
  try {
    await client.startNew(orchestration, { instanceId, input });
    return 'started';
  } catch (e) {
    // Two identical requests at once: the other one started it.
    if (/already exists/i.test((e as Error).message)) return 'joined';
    throw e;
  }
}

/** 202 with the instance's management links (Location: its status), `status` and `extra` in the body. */
export function accepted(
  client: DurableClient,
  id: string,
  status: 'started' | 'joined',
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): HttpResponseInit {
  const links = client.createHttpManagementPayload(id);
  return {
    status: 202,
    headers: { Location: links.statusQueryGetUri, 'Retry-After': '10', ...headers },
    jsonBody: { ...links, status, ...extra },
  };
}
