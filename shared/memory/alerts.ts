/**
 * Alert rules and states in memory (the AlertStore of monitoring/alerts/store.ts): one entry
 * per rule and per (rule, subject), each with a version token that changes on every write,
 * so a write made with a token read before another write is a ConflictError, as with the
 * Table store's ETags. Lists come in key order (the Table's RowKey order); values are copies.
 */
import { ConflictError } from '../errors';
import type { AlertState } from '../monitoring/alerts/engine';
import type { AlertRule } from '../monitoring/alerts/rules';
import type { AlertStore, StoredAlert } from '../monitoring/alerts/store';
import { copyOf } from './copy';

export class MemoryAlertStore implements AlertStore {
  private readonly rules = new Map<string, AlertRule>();
  private readonly alerts = new Map<string, { state: AlertState; etag: string }>();
  private seq = 0;

  async listRules(): Promise<AlertRule[]> {
    return inKeyOrder(this.rules).map(copyOf);
  }

  async putRule(rule: AlertRule): Promise<void> {
    this.rules.set(rule.id, copyOf(rule));
  }

  async deleteRule(id: string): Promise<boolean> {
    return this.rules.delete(id);
  }

  async getAlert(ruleId: string, subject: string): Promise<StoredAlert | undefined> {
    const a = this.alerts.get(alertKey(ruleId, subject));
    return a && { state: copyOf(a.state), etag: a.etag };
  }

  async putAlert(state: AlertState, etag: string | undefined): Promise<void> {
    const key = alertKey(state.ruleId, state.subject);
    if (this.alerts.get(key)?.etag !== etag)
      throw new ConflictError(`alert ${state.ruleId} / ${state.subject} changed meanwhile; read it again`);
    this.alerts.set(key, { state: copyOf(state), etag: `"m${++this.seq}"` });
  }

  async listAlerts(filter: { status?: AlertState['status'] } = {}): Promise<AlertState[]> {
    return inKeyOrder(this.alerts)
      .map((a) => a.state)
      .filter((s) => filter.status === undefined || s.status === filter.status)
      .map(copyOf);
  }
}

const alertKey = (ruleId: string, subject: string) => JSON.stringify([ruleId, subject]);

function inKeyOrder<V>(m: ReadonlyMap<string, V>): V[] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}
