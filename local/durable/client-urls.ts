/**
 * The URLs the Durable client works with: the `durableClient` binding payload (what the
 * extension hands a client function) and the management links of one instance
 * (what `createCheckStatusResponse` returns). Both point at the host's own HTTP port and, as
 * on Azure, carry the durabletask_extension system key as `code=`, so the links work as they
 * are. The payload has no rpcBaseUrl: Azure's RPC endpoint is a key-less port reachable only
 * inside the instance, which a local host cannot offer, so the SDK calls the same keyed
 * webhook URLs instead (its documented path for payloads without one).
 */

/** Where the Durable HTTP API lives on the host, for the SDK's RPC calls and the public links alike. */
export const WEBHOOK_PATH = '/runtime/webhooks/durabletask';
export const INSTANCE_PLACEHOLDER = 'INSTANCEID';

export interface ManagementUrls {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  rewindPostUri: string;
  purgeHistoryDeleteUri: string;
  restartPostUri: string;
  suspendPostUri: string;
  resumePostUri: string;
}

/** The value of a `durableClient` input binding (OrchestrationClientInputData). */
export interface DurableClientPayload {
  taskHubName: string;
  baseUrl: string;
  requiredQueryStringParameters: string;
  creationUrls: { createNewInstancePostUri: string; createAndWaitOnNewInstancePostUri: string };
  managementUrls: ManagementUrls;
}

export class DurableUrls {
  /** e.g. http://127.0.0.1:7071/runtime/webhooks/durabletask (no trailing slash). */
  readonly webhookBase: string;
  private readonly query: string;

  /** `systemKey`: the durabletask_extension key the links carry as `code=` (none: links without a key). */
  constructor(
    hostBaseUrl: string,
    readonly taskHubName: string,
    systemKey?: string,
  ) {
    this.webhookBase = `${hostBaseUrl.replace(/\/+$/, '')}${WEBHOOK_PATH}`;
    this.query = `taskHub=${encodeURIComponent(taskHubName)}&connection=Storage${systemKey ? `&code=${encodeURIComponent(systemKey)}` : ''}`;
  }

  /** Management links with the INSTANCEID placeholder (the template the SDK fills in). */
  private templates(id: string): ManagementUrls {
    const inst = `${this.webhookBase}/instances/${id}`;
    const q = this.query;
    return {
      id,
      statusQueryGetUri: `${inst}?${q}`,
      sendEventPostUri: `${inst}/raiseEvent/{eventName}?${q}`,
      terminatePostUri: `${inst}/terminate?reason={text}&${q}`,
      rewindPostUri: `${inst}/rewind?reason={text}&${q}`,
      purgeHistoryDeleteUri: `${inst}?${q}`,
      restartPostUri: `${inst}/restart?${q}`,
      suspendPostUri: `${inst}/suspend?reason={text}&${q}`,
      resumePostUri: `${inst}/resume?reason={text}&${q}`,
    };
  }

  /** The links of one instance, as the check-status response carries them. */
  managementUrls(instanceId: string): ManagementUrls {
    return this.templates(encodeURIComponent(instanceId));
  }

  clientPayload(): DurableClientPayload {
    const orchestrators = `${this.webhookBase}/orchestrators/{functionName}[/{instanceId}]`;
    return {
      taskHubName: this.taskHubName,
      baseUrl: this.webhookBase,
      requiredQueryStringParameters: this.query,
      creationUrls: {
        createNewInstancePostUri: `${orchestrators}?${this.query}`,
        createAndWaitOnNewInstancePostUri: `${orchestrators}?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${this.query}`,
      },
      managementUrls: this.templates(INSTANCE_PLACEHOLDER),
    };
  }
}
