/**
 * What an Azure Storage answer means, read in one place: the HTTP status of a failed request
 * (`RestError.statusCode`), the few outcomes the stores act on, and whether a failure is an
 * outage (unreachable, or a 5xx) rather than something about the request.
 *
 *   statusOf(e)            the status code, or undefined (not an HTTP answer)
 *   isNotFound(e)          404: no such entity, blob or container
 *   isTaken(e)             409 or 412: it exists already, or changed since read (a lost race)
 *   storageUnavailable(e)  a DependencyError (503) naming Blob or Table storage, or undefined
 */
import { DependencyError } from '../errors';

export function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown } | null | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

export const isNotFound = (e: unknown): boolean => statusOf(e) === 404;

/** A create that found the thing there (409) or a conditional write whose condition failed (412). */
export const isTaken = (e: unknown): boolean => statusOf(e) === 409 || statusOf(e) === 412;

/** Endpoint URL prefixes of every storage account used in this process, to name the service that failed. */
const endpoints = new Map<string, 'Blob' | 'Table'>();

export function registerEndpoint(url: string, service: 'Blob' | 'Table'): void {
  endpoints.set(url.replace(/\/$/, ''), service);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'REQUEST_SEND_ERROR',
]);

/**
 * A storage request that failed because the service is unreachable or failing (not because
 * of what was asked), as a DependencyError (503) naming Blob or Table storage; else undefined.
 */
export function storageUnavailable(err: unknown): DependencyError | undefined {
  if (err instanceof DependencyError) return err;
  const e = err as {
    name?: string;
    code?: string;
    statusCode?: number;
    message?: string;
    request?: { url?: string };
  } | null;
  if (!e || e.name !== 'RestError') return undefined;
  const down =
    e.statusCode === undefined
      ? NETWORK_CODES.has(String(e.code)) || /socket hang up|ECONNRE|timed? ?out/i.test(e.message ?? '')
      : e.statusCode >= 500;
  if (!down) return undefined;
  const url = e.request?.url ?? '';
  const hit = [...endpoints].find(([prefix]) => url.startsWith(prefix));
  const where = hit ? `${hit[1]} storage at ${hit[0]}` : `storage${url ? ` at ${new URL(url).origin}` : ''}`;
  const why =
    e.statusCode !== undefined
      ? `answered ${e.statusCode}`
      : `is unreachable (${(e.message ?? e.code ?? '').split('\n')[0]})`;
  return new DependencyError(`${where} ${why}; retry when it is back`);
}
