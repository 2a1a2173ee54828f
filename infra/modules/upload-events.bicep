// Blob Created events of the `uploads/` container, delivered by Event Grid to the blob
// trigger's webhook (functions/upload-blob.ts uses the Event Grid source: Flex Consumption has
// no polling blob trigger, and events arrive in seconds on either plan).
//
// The webhook URL carries the host's `blobs_extension` system key, which exists once the code
// has been published; so this module is deployed on a second pass (`subscribeUploads=true`).
// The key is read here, inside the resource that needs it, and never passed as a module
// parameter or an output (both are visible in deployment history) - which is also why these
// are plain resources, not the AVM system-topic module (its subscriptions are parameters).

@description('Region of the system topic (the storage account\'s).')
param location string

@description('Tags on the system topic.')
param tags object

@description('The storage account whose blob events are delivered.')
param storageAccountResourceId string

@description('The Function App with the ingest-upload-blob function.')
param functionAppName string

@description('Log Analytics workspace for the diagnostic settings.')
param workspaceResourceId string

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: '${functionAppName}-storage-events'
  location: location
  tags: tags
  properties: {
    source: storageAccountResourceId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource uploads 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'ingest-upload-blob'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${site.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.ingest-upload-blob&code=${listKeys('${site.id}/host/default', '2024-04-01').systemKeys.blobs_extension}'
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/uploads/blobs/'
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

resource topicDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: topic
  properties: {
    workspaceId: workspaceResourceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}
