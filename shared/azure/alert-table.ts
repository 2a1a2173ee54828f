/**
 * The AlertStore of monitoring/alerts/store.ts on Table storage. Table `alertrules`:
 * PartitionKey `rule`, RowKey = rule id. Table `alerts`: PartitionKey `alert`, RowKey =
 * `<rule id>|<subject>` (encoded): exactly one row per rule and subject, which is what makes
 * an alert deduplicated; the row's ETag guards each change, so two runs cannot both open it.
 */
import { odata, type TableClient } from '@azure/data-tables';
import type { Storage } from './storage';
import { ConflictError } from '../errors';
import type { AlertState } from '../monitoring/alerts/engine';
import type { AlertRule } from '../monitoring/alerts/rules';
import type { AlertStore, StoredAlert } from '../monitoring/alerts/store';
import { isTaken } from './status';
import { isNotFound, jsonFromProperties, jsonProperties, keyPart } from './table-json';

export const RULES_TABLE = 'alertrules';
export const ALERTS_TABLE = 'alerts';

export class TableAlertStore implements AlertStore {
  private constructor(
    private readonly rules: TableClient,
    private readonly alerts: TableClient,
  ) {}

  static async open(storage: Storage): Promise<TableAlertStore> {
    return new TableAlertStore(...(await storage.tables(RULES_TABLE, ALERTS_TABLE)));
  }

  async listRules(): Promise<AlertRule[]> {
    const out: AlertRule[] = [];
    for await (const e of this.rules.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq 'rule'` },
    }))
      out.push(jsonFromProperties<AlertRule>(e));
    return out;
  }

  async putRule(rule: AlertRule): Promise<void> {
    await this.rules.upsertEntity({ partitionKey: 'rule', rowKey: rule.id, ...jsonProperties(rule) }, 'Replace');
  }

  async deleteRule(id: string): Promise<boolean> {
    try {
      await this.rules.deleteEntity('rule', id);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async getAlert(ruleId: string, subject: string): Promise<StoredAlert | undefined> {
    try {
      const e = await this.alerts.getEntity<Record<string, unknown>>('alert', alertKey(ruleId, subject));
      return { state: jsonFromProperties<AlertState>(e), etag: e.etag };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async putAlert(state: AlertState, etag: string | undefined): Promise<void> {
    const entity = {
      partitionKey: 'alert',
      rowKey: alertKey(state.ruleId, state.subject),
      status: state.status,
      ...jsonProperties(state),
    };
    try {
      if (etag === undefined) await this.alerts.createEntity(entity);
      else await this.alerts.updateEntity(entity, 'Replace', { etag });
    } catch (e) {
      if (isTaken(e))
        throw new ConflictError(`alert ${state.ruleId} / ${state.subject} changed meanwhile; read it again`);
      throw e;
    }
  }

  async listAlerts(filter: { status?: AlertState['status'] } = {}): Promise<AlertState[]> {
    const f = filter.status
      ? odata`PartitionKey eq 'alert' and status eq ${filter.status}`
      : odata`PartitionKey eq 'alert'`;
    const out: AlertState[] = [];
    for await (const e of this.alerts.listEntities<Record<string, unknown>>({ queryOptions: { filter: f } }))
      out.push(jsonFromProperties<AlertState>(e));
    return out;
  }
}

const alertKey = (ruleId: string, subject: string) => `${keyPart(ruleId)}|${keyPart(subject)}`;
