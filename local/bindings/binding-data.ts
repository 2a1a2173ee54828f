/**
 * The binding data of one invocation: the names `{...}` expressions can use, built from what the
 * trigger delivered, with the host's precedence:
 *
 *   HTTP        a JSON body's top-level properties, then query values, then route values
 *               (later ones win), plus `Query` and `Headers` objects
 *   queue       a JSON message's top-level properties, then the trigger metadata
 *               (QueueTrigger, Id, DequeueCount, InsertionTime, ...)
 *   activity    an object input's top-level properties (the backup sample's `backups/{backupPath}`),
 *               then `instanceId` and `data` (the input)
 *   blob, ...   the trigger metadata (for blobs: the path's own {names}, BlobTrigger, Uri, ...)
 *   always      `sys` = { MethodName, UtcNow, RandGuid } (UtcNow is the invocation's start)
 */
import type { InvocationRequest, RegisteredFunction, RpcTypedData } from '../functions-core';
import { fromTyped } from '../functions-core';
import { Guid, type BindingData } from './expressions';

interface HttpData {
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
  body?: { bytes?: Uint8Array; string?: string };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function jsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (!text || !text.trimStart().startsWith('{')) return undefined;
  const v = parseJson(text);
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function bodyText(b: HttpData['body']): string | undefined {
  if (!b) return undefined;
  if (b.string != null) return b.string;
  return b.bytes ? Buffer.from(b.bytes).toString('utf8') : undefined;
}

function triggerValue(req: InvocationRequest, key: string): RpcTypedData | undefined {
  return req.inputData?.find((d) => d.name === key)?.data;
}

export function bindingDataFor(fn: RegisteredFunction, req: InvocationRequest, startedAt: Date): BindingData {
  const data: BindingData = {};
  const type = fn.trigger.type.toLowerCase();
  const trigger = triggerValue(req, fn.triggerKey);
  if (type === 'httptrigger' && trigger?.http) {
    const http = trigger.http as HttpData;
    Object.assign(data, jsonObject(bodyText(http.body)) ?? {});
    for (const [k, v] of Object.entries(http.query ?? {})) if (k.toLowerCase() !== 'code') data[k] = v;
    Object.assign(data, http.params ?? {});
    data.Query = { ...(http.query ?? {}) };
    data.Headers = { ...(http.headers ?? {}) };
  } else if (type === 'queuetrigger') {
    Object.assign(data, jsonObject(trigger?.string ?? undefined) ?? {});
  } else if (type === 'activitytrigger' && trigger?.string != null) {
    const input = parseJson(trigger.string);
    if (input && typeof input === 'object' && !Array.isArray(input)) Object.assign(data, input);
    if (input !== undefined) data.data = input;
  }
  for (const [k, v] of Object.entries(req.triggerMetadata ?? {})) data[k] = fromTyped(v);
  data.sys = {
    MethodName: fn.name,
    UtcNow: startedAt,
    get RandGuid() {
      return new Guid();
    },
  };
  return data;
}
