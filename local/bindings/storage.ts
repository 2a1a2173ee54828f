/**
 * Azure Storage input and output bindings on the host's storage (Azurite locally), carried out
 * as the Storage extensions do:
 *
 *   blob in     the blob's bytes (a string with dataType "string"); nothing when it does not exist
 *   blob out    the value written to the path (text, bytes, or JSON for objects); the container is created
 *   table in    one entity (partitionKey + rowKey) or an array (partitionKey and/or an OData filter, take)
 *   table out   one entity or an array; each needs PartitionKey and RowKey (or the binding's);
 *               upserted (replace), in transactions per partition
 *   queue out   one message per value (arrays: one per element; objects as JSON), encoded as
 *               host.json extensions.queues.messageEncoding says (base64 by default, like Azure)
 *
 * Paths and names are binding templates bound once per invocation from its binding data, so
 * `{rand-guid}` names one blob even when read and written. `connection` names a connection
 * setting, read as the Functions host reads it (shared/azure/connections.ts): a connection string
 * (also looked up as AzureWebJobs<name>) or identity-based keys (`<name>__accountName`,
 * `__blobServiceUri`, ..., `__credential`, `__clientId`); empty means AzureWebJobsStorage, and
 * UseDevelopmentStorage=true means the host's own storage.
 */
import type { TableEntity, TransactionAction } from '@azure/data-tables';
import { storageFor, Storage } from '../../shared/azure/storage';
import { storageKey, type StorageConnection } from '../../shared/azure/connections';
import type { Invocation, InvocationResponse, RpcTypedData } from '../functions-core';
import { fromTyped } from '../functions-core';
import { bindingDataFor } from './binding-data';
import type { BindingData } from './expressions';
import type { FunctionPlan, PlannedBinding } from './plan';
import { BindingError, SERVICE_OF, storageConnectionFor } from './connection';

export { BindingError, SERVICE_OF, storageConnectionFor } from './connection';

export interface StorageBindingOptions {
  /** The host's storage (AzureWebJobsStorage). */
  hostConnection: StorageConnection | string;
  /** host.json extensions.queues.messageEncoding. */
  queueMessageEncoding: 'base64' | 'none';
  /** Told after messages were added to a queue (connection: storageKey), so a queue trigger on it polls at once. */
  onQueueMessages?: (connection: string, queueName: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** The invocation's binding data, built once. */
function bindingData(inv: Invocation): BindingData {
  let d = inv.state.get('bindingData') as BindingData | undefined;
  if (!d) inv.state.set('bindingData', (d = bindingDataFor(inv.fn, inv.request, inv.startedAt)));
  return d;
}

/** A binding property bound for this invocation (once: `{rand-guid}` stays the same within it). */
function bound(inv: Invocation, b: PlannedBinding, prop: string): string | undefined {
  const key = `bound:${b.key}:${prop}`;
  if (inv.state.has(key)) return inv.state.get(key) as string | undefined;
  const t = b.templates[prop];
  const raw = b.binding[prop];
  let v: string | undefined;
  try {
    v = t ? t.bind(bindingData(inv)) : typeof raw === 'string' ? raw : undefined;
  } catch (e) {
    throw new BindingError(`binding '${b.key}' (${b.binding.type}): ${prop} "${String(raw)}": ${(e as Error).message}`);
  }
  inv.state.set(key, v);
  return v;
}

function blobPath(path: string, b: PlannedBinding): { container: string; name: string } {
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1)
    throw new BindingError(`binding '${b.key}' (blob): path "${path}" must be <container>/<blob name>`);
  return { container: path.slice(0, slash), name: path.slice(slash + 1) };
}

function statusOf(e: unknown): number | undefined {
  return (e as { statusCode?: number }).statusCode;
}

/** Bytes of an output value as the worker sent it. */
function bytesOf(d: RpcTypedData): Buffer {
  if (d.bytes) return Buffer.from(d.bytes);
  if (d.string != null) return Buffer.from(d.string, 'utf8');
  if (d.json != null) return Buffer.from(d.json, 'utf8');
  const v = fromTyped(d);
  return Buffer.from(v === undefined ? '' : String(v), 'utf8');
}

/** A table row as the Tables extension hands it to JavaScript. */
function entityOut(e: Record<string, unknown>): Record<string, unknown> {
  const { partitionKey, rowKey, timestamp, etag, 'odata.metadata': _m, ...props } = e;
  void etag;
  void _m;
  return { PartitionKey: partitionKey, RowKey: rowKey, ...(timestamp ? { Timestamp: timestamp } : {}), ...props };
}

const odataString = (s: string) => `'${s.replace(/'/g, "''")}'`;

export class StorageBindings {
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly o: StorageBindingOptions) {
    this.env = o.env ?? process.env;
  }

  private storage(b: PlannedBinding): Storage {
    return storageFor(
      storageConnectionFor(b.binding.connection, this.o.hostConnection, this.env, SERVICE_OF[b.binding.type]),
    );
  }

  /** Input data for the function's blob and table inputs. */
  async inputs(inv: Invocation, plan: FunctionPlan): Promise<Array<{ name: string; data: RpcTypedData }>> {
    const out: Array<{ name: string; data: RpcTypedData }> = [];
    for (const b of plan.inputs) {
      if (b.binding.type === 'blob') {
        const data = await this.readBlob(inv, b);
        if (data) out.push({ name: b.key, data });
      } else if (b.binding.type === 'table') {
        out.push({ name: b.key, data: { json: JSON.stringify(await this.readTable(inv, b)) } });
      }
    }
    return out;
  }

  /** Carry out the function's blob, table and queue outputs (the `$return` binding included). */
  async outputs(inv: Invocation, plan: FunctionPlan, res: InvocationResponse): Promise<void> {
    const values = new Map((res.outputData ?? []).map((o) => [o.name, o.data]));
    if (res.returnValue) values.set('$return', res.returnValue);
    for (const b of plan.outputs) {
      const data = values.get(b.key);
      if (!data || fromTyped(data) === undefined || fromTyped(data) === null) continue;
      if (b.binding.type === 'blob') await this.writeBlob(inv, b, data);
      else if (b.binding.type === 'table') await this.writeTable(inv, b, data);
      else if (b.binding.type === 'queue') await this.writeQueue(inv, b, data);
    }
  }

  private async readBlob(inv: Invocation, b: PlannedBinding): Promise<RpcTypedData | undefined> {
    const { container, name } = blobPath(bound(inv, b, 'path')!, b);
    try {
      const buf = await this.storage(b).blobs.getContainerClient(container).getBlobClient(name).downloadToBuffer();
      return b.binding.dataType === 'string' ? { string: buf.toString('utf8') } : { bytes: buf };
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  private async writeBlob(inv: Invocation, b: PlannedBinding, data: RpcTypedData): Promise<void> {
    const { container, name } = blobPath(bound(inv, b, 'path')!, b);
    const body = bytesOf(data);
    const c = await this.storage(b).container(container);
    await c
      .getBlockBlobClient(name)
      .upload(body, body.length, data.json != null ? { blobHTTPHeaders: { blobContentType: 'application/json' } } : {});
  }

  private async readTable(inv: Invocation, b: PlannedBinding): Promise<unknown> {
    const table = bound(inv, b, 'tableName')!;
    const pk = bound(inv, b, 'partitionKey');
    const rk = bound(inv, b, 'rowKey');
    const client = await this.storage(b).table(table);
    if (pk !== undefined && rk !== undefined) {
      try {
        return entityOut(await client.getEntity(pk, rk));
      } catch (e) {
        if (statusOf(e) === 404) return null;
        throw e;
      }
    }
    const filter = bound(inv, b, 'filter');
    const parts = [
      pk !== undefined ? `PartitionKey eq ${odataString(pk)}` : undefined,
      filter ? `(${filter})` : undefined,
    ].filter(Boolean);
    const take = Number(b.binding.take ?? 0);
    const rows: unknown[] = [];
    const query = parts.length ? { queryOptions: { filter: parts.join(' and ') } } : {};
    for await (const e of client.listEntities<Record<string, unknown>>(query)) {
      rows.push(entityOut(e));
      if (take > 0 && rows.length >= take) break;
    }
    return rows;
  }

  private async writeTable(inv: Invocation, b: PlannedBinding, data: RpcTypedData): Promise<void> {
    const value = fromTyped(data);
    const items = (Array.isArray(value) ? value : [value]) as unknown[];
    const pk = bound(inv, b, 'partitionKey');
    const rk = bound(inv, b, 'rowKey');
    const byPartition = new Map<string, TableEntity[]>();
    items.forEach((item, i) => {
      if (!item || typeof item !== 'object' || Array.isArray(item))
        throw new BindingError(`table output '${b.key}': item ${i} is not an object`);
      const { PartitionKey, RowKey, partitionKey, rowKey, ...props } = item as Record<string, unknown>;
      const entity: TableEntity = {
        partitionKey: String(PartitionKey ?? partitionKey ?? pk ?? ''),
        rowKey: String(RowKey ?? rowKey ?? rk ?? ''),
        ...props,
      };
      if (!entity.partitionKey || !entity.rowKey)
        throw new BindingError(
          `table output '${b.key}': item ${i} needs PartitionKey and RowKey (or set them on the binding)`,
        );
      for (const [k, v] of Object.entries(props)) {
        if (v !== null && typeof v === 'object' && !(v instanceof Date))
          throw new BindingError(
            `table output '${b.key}': item ${i} property "${k}" is an object; Table storage holds text, numbers, booleans and dates`,
          );
      }
      const list = byPartition.get(entity.partitionKey) ?? [];
      list.push(entity);
      byPartition.set(entity.partitionKey, list);
    });
    const client = await this.storage(b).table(bound(inv, b, 'tableName')!);
    for (const entities of byPartition.values()) {
      for (let i = 0; i < entities.length; i += 100) {
        const actions: TransactionAction[] = entities.slice(i, i + 100).map((e) => ['upsert', e, 'Replace']);
        await client.submitTransaction(actions);
      }
    }
  }

  private async writeQueue(inv: Invocation, b: PlannedBinding, data: RpcTypedData): Promise<void> {
    const name = bound(inv, b, 'queueName')!;
    const value = data.bytes ? Buffer.from(data.bytes) : fromTyped(data);
    const items = Array.isArray(value) ? value : [value];
    const connection = storageConnectionFor(b.binding.connection, this.o.hostConnection, this.env, 'queue');
    const queue = await storageFor(connection).queue(name.toLowerCase());
    for (const item of items) {
      const text = Buffer.isBuffer(item)
        ? item
        : Buffer.from(typeof item === 'string' ? item : JSON.stringify(item), 'utf8');
      await queue.sendMessage(
        this.o.queueMessageEncoding === 'base64' ? text.toString('base64') : text.toString('utf8'),
      );
    }
    this.o.onQueueMessages?.(storageKey(connection), name.toLowerCase());
  }
}
