/**
 * Alert rules (those added through the API) and alert states behind one small contract, so
 * the alert service never sees Table storage: exactly one stored alert per rule and subject,
 * which is what makes an alert deduplicated, and each change conditional on the version read
 * (its etag), so two runs cannot both open it. Kept by shared/azure/alert-table.ts (Tables
 * `alertrules` and `alerts`) and shared/memory/alerts.ts.
 */
import type { AlertState } from './engine';
import type { AlertRule } from './rules';

export interface StoredAlert {
  state: AlertState;
  /** Opaque version for compare-and-set; undefined = not stored yet. */
  etag?: string;
}

export interface AlertStore {
  listRules(): Promise<AlertRule[]>;
  putRule(rule: AlertRule): Promise<void>;
  deleteRule(id: string): Promise<boolean>;
  getAlert(ruleId: string, subject: string): Promise<StoredAlert | undefined>;
  /** Write if unchanged since `etag` was read (undefined: only if absent); ConflictError otherwise. */
  putAlert(state: AlertState, etag: string | undefined): Promise<void>;
  listAlerts(filter?: { status?: AlertState['status'] }): Promise<AlertState[]>;
}
