/**
 * The Durable HTTP API (the extension's HttpApiHandler) under /runtime/webhooks/durabletask/:
 * what the SDK's DurableClient calls and what check-status links point at, with Azure's
 * routes and status codes.
 */
import { z } from 'zod';
import { StrataError, ValidationError, detailsFromZod, publicText } from '../../shared/errors';
import { checkName } from '../../shared/names';
import type { LocalHttpRequest, LocalHttpResponse } from '../extension';
import type { DurableEngine } from './engine';
import { DurableUrls, WEBHOOK_PATH } from './client-urls';
import { RUNTIME_STATUSES, RuntimeStatus, isTerminal } from './protocol';
import type { InstanceStatus } from './status';
import { storageUnavailable } from '../../shared/azure/status';

function reply(status: number, body?: unknown, headers: Record<string, string> = {}): LocalHttpResponse {
  if (body === undefined) return { status, headers };
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
}
/** The extension's error shape ({"Message": ...}). */
const problem = (status: number, message: string, details?: unknown) =>
  reply(status, details ? { Message: message, details } : { Message: message });

const bool = z
  .enum(['true', 'false', 'True', 'False'])
  .transform((v) => v.toLowerCase() === 'true')
  .optional();
const time = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 date-time, e.g. 2024-05-01T00:00:00Z')
  .transform((s) => new Date(s))
  .optional();
const statuses = z
  .string()
  .optional()
  .transform((s, ctx) => {
    if (!s) return undefined;
    const list = s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    const bad = list.filter((x) => !RUNTIME_STATUSES.includes(x as RuntimeStatus));
    if (bad.length)
      ctx.addIssue({
        code: 'custom',
        message: `unknown runtime status ${bad.join(', ')}; use ${RUNTIME_STATUSES.join(', ')}`,
      });
    return list as RuntimeStatus[];
  });
const seconds = z.coerce.number().positive('must be a positive number of seconds').optional();

const listQuery = z.object({
  runtimeStatus: statuses,
  createdTimeFrom: time,
  createdTimeTo: time,
  instanceIdPrefix: z.string().min(1).optional(),
  showInput: bool,
  top: z.coerce.number().int().min(1).max(1000).optional(),
});
const statusQuery = z.object({
  showHistory: bool,
  showHistoryOutput: bool,
  showInput: bool,
  returnInternalServerErrorOnFailure: bool,
});
const startQuery = z.object({ timeout: seconds, pollingInterval: seconds, version: z.string().optional() });
const restartQuery = z.object({ restartWithNewInstanceId: bool, timeout: seconds, pollingInterval: seconds });

function parseQuery<T extends z.ZodTypeAny>(schema: T, q: URLSearchParams): z.output<T> {
  const r = schema.safeParse(Object.fromEntries(q.entries()));
  if (!r.success) throw new ValidationError('invalid query parameters', detailsFromZod(r.error.issues, 'query'));
  return r.data as z.output<T>;
}

function header(req: LocalHttpRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The body as JSON (empty = null); undefined when it is not JSON. */
function jsonBody(req: LocalHttpRequest): { ok: true; value: unknown } | { ok: false; error: string } {
  const text = req.body.toString('utf8');
  if (!text.trim()) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

export class DurableHttpApi {
  constructor(
    private readonly engine: DurableEngine,
    private readonly urls: DurableUrls,
    private readonly log: (message: string) => void = (m) => console.error(`[durable] ${m}`),
  ) {}

  /** Serve a request under the webhook path; undefined for any other path. */
  async handle(req: LocalHttpRequest): Promise<LocalHttpResponse | undefined> {
    if (req.path !== WEBHOOK_PATH && !req.path.startsWith(`${WEBHOOK_PATH}/`)) return undefined;
    const rest = req.path.slice(WEBHOOK_PATH.length).replace(/^\/+/, '');
    let parts: string[];
    try {
      parts = rest.split('/').map((p) => decodeURIComponent(p));
    } catch {
      return problem(400, `the path ${req.path} is not correctly percent-encoded`);
    }
    // "instances/" lists; "instances/x/" is instance x.
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    try {
      return await this.route(req, parts);
    } catch (thrown) {
      const err = storageUnavailable(thrown) ?? thrown; // the task hub's storage down: 503 naming it
      if (err instanceof StrataError)
        return problem(err.status, publicText(err.message), err.details.length ? err.details : undefined);
      this.log(`Durable HTTP API ${req.method} ${req.path} failed: ${(err as Error).stack ?? String(err)}`);
      return problem(500, 'Something went wrong while processing your request; the host log has the details.');
    }
  }

  private async route(req: LocalHttpRequest, p: string[]): Promise<LocalHttpResponse> {
    const m = req.method.toUpperCase();
    const [head, id, op, arg] = p;
    if (head === 'orchestrators' && id) {
      if (m !== 'POST' || p.length > 3)
        return problem(404, 'start an orchestration with POST orchestrators/{functionName}[/{instanceId}]');
      checkName('durableName', id, 'functionName');
      if (op) checkName('instanceId', op, 'instanceId');
      return this.start(req, id, op);
    }
    // Every instance route names its instance by the rule, before any storage call.
    if (head === 'instances' && id) checkName('instanceId', id, 'instanceId');
    if (head === 'entities')
      return problem(501, "Durable entities are not supported by Strata's local Durable engine.");
    if (head !== 'instances') return problem(404, `no Durable API route ${m} ${req.path}`);

    if (!id) {
      if (m === 'GET') return this.list(req);
      if (m === 'DELETE') return this.purgeWhere(req);
      return problem(404, `use GET or DELETE on ${WEBHOOK_PATH}/instances/`);
    }
    if (op === undefined) {
      if (m === 'GET') return this.status(req, id);
      if (m === 'DELETE') return this.purge(id);
      return problem(404, `use GET or DELETE on ${WEBHOOK_PATH}/instances/{instanceId}`);
    }
    if (m !== 'POST') return problem(404, `use POST for ${op}`);
    const reason = req.query.get('reason') ?? undefined;
    switch (op.toLowerCase()) {
      case 'raiseevent':
        if (!arg || p.length > 4)
          return problem(404, 'raise an event with POST instances/{instanceId}/raiseEvent/{eventName}');
        return this.raiseEvent(req, id, arg);
      case 'terminate':
        return this.opReply(await this.engine.terminate(id, reason), id);
      case 'suspend':
        return this.opReply(await this.engine.suspend(id, reason), id);
      case 'resume':
        return this.opReply(await this.engine.resume(id, reason), id);
      case 'restart':
        return this.restart(req, id);
      case 'rewind':
        return problem(
          501,
          "rewind is not supported by Strata's local Durable engine; restart the instance (POST instances/{instanceId}/restart) or start a new one instead.",
        );
      default:
        return problem(404, `unknown instance operation "${op}"`);
    }
  }

  private opReply(r: Awaited<ReturnType<DurableEngine['terminate']>>, id: string): LocalHttpResponse {
    if (r === 'notFound') return problem(404, `No instance with ID '${id}' found.`);
    if (r === 'gone') return problem(410, `The instance '${id}' has already finished.`);
    return reply(202);
  }

  private checkStatusHeaders(id: string): Record<string, string> {
    return { Location: this.urls.managementUrls(id).statusQueryGetUri, 'Retry-After': '10' };
  }

  private async start(
    req: LocalHttpRequest,
    functionName: string,
    instanceId: string | undefined,
  ): Promise<LocalHttpResponse> {
    const q = parseQuery(startQuery, req.query);
    const body = jsonBody(req);
    if (!body.ok) return problem(400, `Invalid JSON content: ${body.error}`);
    const row = await this.engine.startNew(functionName, {
      instanceId: instanceId || undefined,
      input: body.value,
      version: q.version,
    });
    return this.startedReply(row.instanceId, q);
  }

  /** POST instances/{id}/restart[?restartWithNewInstanceId=false]: the same orchestration with its original input. */
  private async restart(req: LocalHttpRequest, instanceId: string): Promise<LocalHttpResponse> {
    const q = parseQuery(restartQuery, req.query);
    const row = await this.engine.restart(instanceId, q.restartWithNewInstanceId ?? true);
    if (!row) return problem(400, 'InstanceId does not match a valid orchestration instance.');
    return this.startedReply(row.instanceId, q);
  }

  /** 202 with the check-status links, or the result when the caller asked to wait (timeout + pollingInterval). */
  private async startedReply(
    id: string,
    q: { timeout?: number | undefined; pollingInterval?: number | undefined },
  ): Promise<LocalHttpResponse> {
    if (q.timeout !== undefined && q.pollingInterval !== undefined) {
      const s = await this.engine.waitForCompletion(id, q.timeout * 1000, q.pollingInterval * 1000);
      if (s && s.runtimeStatus === 'Completed') return reply(200, s.output);
      if (s && isTerminal(s.runtimeStatus)) return reply(200, s);
    }
    return reply(202, this.urls.managementUrls(id), this.checkStatusHeaders(id));
  }

  private async status(req: LocalHttpRequest, id: string): Promise<LocalHttpResponse> {
    const q = parseQuery(statusQuery, req.query);
    const s = await this.engine.getStatus(id, {
      showHistory: q.showHistory,
      showHistoryOutput: q.showHistoryOutput,
      showInput: q.showInput,
    });
    if (!s) return problem(404, `No instance with ID '${id}' found.`);
    if (!isTerminal(s.runtimeStatus)) {
      return reply(202, s, { Location: this.urls.managementUrls(id).statusQueryGetUri, 'Retry-After': '5' });
    }
    return reply(s.runtimeStatus === 'Failed' && q.returnInternalServerErrorOnFailure ? 500 : 200, s);
  }

  private async list(req: LocalHttpRequest): Promise<LocalHttpResponse> {
    const q = parseQuery(listQuery, req.query);
    const token = header(req, 'x-ms-continuation-token') || undefined;
    let page: { instances: InstanceStatus[]; continuationToken?: string };
    try {
      page = await this.engine.listInstances(
        {
          statuses: q.runtimeStatus,
          createdFrom: q.createdTimeFrom,
          createdTo: q.createdTimeTo,
          instanceIdPrefix: q.instanceIdPrefix,
        },
        { pageSize: q.top, continuationToken: token, showInput: q.showInput },
      );
    } catch (e) {
      if (token)
        return problem(400, `the x-ms-continuation-token header is not one this API returned: ${(e as Error).message}`);
      throw e;
    }
    return reply(
      200,
      page.instances,
      page.continuationToken ? { 'x-ms-continuation-token': page.continuationToken } : {},
    );
  }

  private async purge(id: string): Promise<LocalHttpResponse> {
    const r = await this.engine.purge(id);
    if (r === 'notFound') return problem(404, `No instance with ID '${id}' found.`);
    if (r === 'notTerminal')
      return problem(
        412,
        `Only orchestrations in a terminal state can be purged; '${id}' is still running. Terminate it first.`,
      );
    return reply(200, { instancesDeleted: 1 });
  }

  private async purgeWhere(req: LocalHttpRequest): Promise<LocalHttpResponse> {
    const q = parseQuery(listQuery, req.query);
    if (!q.createdTimeFrom) return problem(400, "Please provide value for 'createdTimeFrom' parameter.");
    const n = await this.engine.purgeWhere({
      statuses: q.runtimeStatus,
      createdFrom: q.createdTimeFrom,
      createdTo: q.createdTimeTo ?? new Date(),
      instanceIdPrefix: q.instanceIdPrefix,
    });
    if (n === 0) return problem(404, 'No finished instances match the filter.');
    return reply(200, { instancesDeleted: n });
  }

  private async raiseEvent(req: LocalHttpRequest, id: string, eventName: string): Promise<LocalHttpResponse> {
    const status = await this.engine.getStatus(id, { showInput: false });
    if (!status) return problem(404, `No instance with ID '${id}' found.`);
    if (isTerminal(status.runtimeStatus)) return problem(410, `The instance '${id}' has already finished.`);
    const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json')
      return problem(
        400,
        'Only application/json request content is supported (send the event data as JSON with Content-Type: application/json).',
      );
    const body = jsonBody(req);
    if (!body.ok) return problem(400, `Invalid JSON content: ${body.error}`);
    return this.opReply(await this.engine.raiseEvent(id, eventName, body.value), id);
  }
}
