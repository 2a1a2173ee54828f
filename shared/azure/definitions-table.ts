/**
 * Applied feature definitions in an Azure Table (the DefinitionStore of
 * features/definitions/registry.ts). Table `featureregistry`: the current definition of each
 * (kind, name) at (PartitionKey = kind, RowKey = name); every applied version at
 * (PartitionKey = `history.{kind}.{name}`, RowKey = `{appliedAt ms, zero-padded}.{version}`).
 * The definition's JSON spans `definition0..definitionN` (count in `chunks`): large-property.ts.
 */
import { odata, type TableClient, type TableEntityResult } from '@azure/data-tables';
import type { DefinitionKind } from '../features/definitions/repo';
import type { AppliedDefinition, DefinitionStore, StoredDefinition } from '../features/definitions/registry';
import { packJson, unpackJson, type PropertyLayout } from './large-property';
import { isNotFound, isTaken } from './status';
import type { Storage } from './storage';

export const REGISTRY_TABLE = 'featureregistry';
const KINDS: readonly DefinitionKind[] = ['entity', 'source', 'view', 'service'];
const DEFINITION: PropertyLayout = { count: 'chunks', part: (i) => `definition${i}` };

export class DefinitionsTable implements DefinitionStore {
  constructor(private readonly table: TableClient) {}

  static async open(storage: Storage, table = REGISTRY_TABLE): Promise<DefinitionsTable> {
    return new DefinitionsTable(await storage.table(table));
  }

  async current(): Promise<AppliedDefinition[]> {
    const out: AppliedDefinition[] = [];
    const filter = KINDS.map((k) => `PartitionKey eq '${k}'`).join(' or ');
    for await (const e of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } }))
      out.push(fromEntity(e, e.partitionKey as DefinitionKind, e.rowKey!));
    return out;
  }

  async get(kind: DefinitionKind, name: string): Promise<AppliedDefinition | undefined> {
    try {
      return fromEntity(await this.table.getEntity<Record<string, unknown>>(kind, name), kind, name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async history(kind: DefinitionKind, name: string): Promise<StoredDefinition[]> {
    const out: StoredDefinition[] = [];
    const pk = historyPartition(kind, name);
    for await (const e of this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${pk}` },
    })) {
      const { token: _token, ...d } = fromEntity(e, kind, name);
      out.push(d);
    }
    return out;
  }

  /** History row, then the current row (created, or replaced under the ETag it was read with). */
  async record(d: StoredDefinition, previous: AppliedDefinition | undefined): Promise<'recorded' | 'lost-race'> {
    const body = toProperties(d);
    await this.table.upsertEntity(
      {
        partitionKey: historyPartition(d.kind, d.name),
        rowKey: `${String(Date.parse(d.appliedAt)).padStart(15, '0')}.${d.version}`,
        ...body,
      },
      'Replace',
    );
    const row = { partitionKey: d.kind, rowKey: d.name, ...body };
    try {
      if (!previous) await this.table.createEntity(row);
      else await this.table.updateEntity(row, 'Replace', { etag: previous.token ?? '*' });
      return 'recorded';
    } catch (e) {
      if (isTaken(e)) return 'lost-race';
      throw e;
    }
  }
}

function toProperties(d: StoredDefinition): Record<string, unknown> {
  return {
    kind: d.kind,
    name: d.name,
    version: d.version,
    appliedAt: d.appliedAt,
    ...packJson(d.definition, DEFINITION),
    ...(d.description !== undefined ? { description: d.description } : {}),
  };
}

function fromEntity(
  e: TableEntityResult<Record<string, unknown>>,
  kind: DefinitionKind,
  name: string,
): AppliedDefinition {
  return {
    kind,
    name,
    version: String(e.version),
    definition: unpackJson(e, DEFINITION) as Record<string, unknown>,
    ...(typeof e.description === 'string' ? { description: e.description } : {}),
    appliedAt: String(e.appliedAt),
    ...(e.etag ? { token: e.etag } : {}),
  };
}

function historyPartition(kind: DefinitionKind, name: string): string {
  return `history.${kind}.${name}`;
}
