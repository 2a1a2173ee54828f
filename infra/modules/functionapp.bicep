// The Function App and its plan. Every connection is identity-based: the user-assigned
// identity's client id goes into the `<connection>__credential` / `__clientId` settings the
// Functions host and shared/config read, so no key or connection string with a key is an app
// setting; what must stay secret is a Key Vault reference.
//
// Flex Consumption: the package is a blob in `deploymentContainer` that the platform reads
// with the identity; runtime, scale and always-ready instances are `functionAppConfig`, so
// the settings Flex rejects (FUNCTIONS_WORKER_RUNTIME, WEBSITE_RUN_FROM_PACKAGE, content
// share) are absent. Elastic Premium: runs from the same package blob by URL with the
// identity (WEBSITE_RUN_FROM_PACKAGE + ..._BLOB_MI_RESOURCE_ID), so it needs no Azure Files
// content share, which would need an account key.

@description('Name of the Function App; the plan is named after it.')
param name string

@description('Region of the plan and the app.')
param location string

@description('Tags on the plan and the app.')
param tags object

@description('Send Azure Verified Modules usage telemetry to Microsoft.')
param enableTelemetry bool

@description('FlexConsumption or ElasticPremium (see main.bicep).')
param hostingPlan string

@description('Flex Consumption: always-ready instances of the HTTP group.')
param httpAlwaysReady int

@description('Flex Consumption: memory of one instance in MB.')
param instanceMemoryMB int

@description('Flex Consumption: the most instances.')
param maximumInstanceCount int

@description('Elastic Premium: plan size.')
param premiumSku string

@description('Elastic Premium: instances that always run.')
param premiumMinimumInstances int

@description('Elastic Premium: the most instances.')
param premiumMaximumInstances int

@description('Resource id of the user-assigned identity the app runs as.')
param identityResourceId string

@description('Client id of that identity (the `__clientId` settings).')
param identityClientId string

@description('Storage account of the host, Durable Functions and the offline store.')
param storageAccountName string

@description('Blob endpoint of that account, with a trailing slash.')
param storageBlobEndpoint string

@description('Blob container the app package is deployed to.')
param deploymentContainer string

@description('Event Hubs namespace name (its FQDN is the connection).')
param eventHubNamespaceName string

@description('Consumer group the ingest triggers read with.')
param eventHubConsumerGroup string

@description('Hub of the prediction log.')
param predictionsHub string

@description('Host name of the Azure Managed Redis cluster.')
param redisHostName string

@description('TLS port of the Redis database.')
param redisPort int

@description('EntraId or AccessKey (see main.bicep).')
param redisAuthentication string

@description('Key Vault holding the secrets the settings reference.')
param keyVaultName string

@description('Key Vault secret with the Redis URL (AccessKey mode).')
param redisUrlSecretName string

@description('App settings served from Key Vault secrets of the same name (`_` written as `-`).')
param keyVaultSecretSettings array

@description('Application Insights connection string (an ingestion address, not a credential: local auth is off).')
param appInsightsConnectionString string

@description('Log Analytics workspace for the diagnostic settings.')
param workspaceResourceId string

@description('Subnet for VNet integration; empty: none.')
param integrationSubnetId string

@description('STRATA_UPLOAD_MAX_BYTES.')
param uploadMaxBytes int

@description('STRATA_SESSION_GRACE_MS.')
param sessionGraceMs int

@description('STRATA_TRAINING_SET_ASYNC_ROWS.')
param trainingSetAsyncRows int

@description('STRATA_LOG_LEVEL.')
param logLevel string

@description('STRATA_MONITOR_SCHEDULE.')
param monitorSchedule string

@description('STRATA_MONITOR_WINDOW.')
param monitorWindow string

@description('STRATA_ALERT_WEBHOOK_URL.')
param alertWebhookUrl string

@description('Key Vault secret name of STRATA_ALERT_WEBHOOK_SECRET; empty: unsigned webhooks.')
param alertWebhookSecretName string

var isFlex = hostingPlan == 'FlexConsumption'
var packageUrl = '${storageBlobEndpoint}${deploymentContainer}/strata.zip'

// Connections: the host's triggers and bindings, and shared/config, read these shapes.
var identitySettings = {
  AZURE_CLIENT_ID: identityClientId
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  EVENTHUB_CONNECTION__fullyQualifiedNamespace: '${eventHubNamespaceName}.servicebus.windows.net'
  EVENTHUB_CONNECTION__credential: 'managedidentity'
  EVENTHUB_CONNECTION__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Redis: the URL carries no password with Entra ID (the app signs in with a token for the
// identity); with an access key the whole URL is a Key Vault secret.
var redisSettings = redisAuthentication == 'EntraId' ? {
  REDIS_URL: 'rediss://${redisHostName}:${redisPort}'
  REDIS_URL__credential: 'managedidentity'
  REDIS_URL__clientId: identityClientId
} : {
  REDIS_URL: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${redisUrlSecretName})'
}

var strataSettings = {
  EVENTHUB_CONSUMER_GROUP: eventHubConsumerGroup
  STRATA_DATA_DIR: '/tmp/strata'
  STRATA_UPLOAD_MAX_BYTES: string(uploadMaxBytes)
  STRATA_PREDICTIONS_HUB: predictionsHub
  STRATA_PREDICTION_LOG: 'on'
  STRATA_SESSION_GRACE_MS: string(sessionGraceMs)
  STRATA_SERVING_REFRESH_MS: '2000'
  STRATA_TRAINING_SET_ASYNC_ROWS: string(trainingSetAsyncRows)
  STRATA_LOG_LEVEL: logLevel
  STRATA_MAX_FUTURE_SKEW: '1h'
  STRATA_TRAINER_MODULES: ''
  STRATA_TRAINING_MAX_CONCURRENT: '1'
  STRATA_REDIS_READ_TIMEOUT_MS: '1000'
  STRATA_REDIS_WRITE_TIMEOUT_MS: '10000'
  STRATA_REDIS_CONNECT_TIMEOUT_MS: '1000'
  STRATA_MONITOR_SCHEDULE: monitorSchedule
  STRATA_MONITOR_WINDOW: monitorWindow
  STRATA_MONITOR_MAX_EVENT_LOOP_DELAY_MS: '100'
  STRATA_MONITOR_MAX_PREDICT_RATE: '200'
  STRATA_MONITOR_DUCKDB_THREADS: '1'
  STRATA_DUCKDB_MEMORY_LIMIT: '600MB'
  STRATA_ALERT_WEBHOOK_URL: alertWebhookUrl
  STRATA_ALERT_WEBHOOK_SECRET: empty(alertWebhookSecretName) ? '' : '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${alertWebhookSecretName})'
}

var secretSettings = toObject(keyVaultSecretSettings, n => n, n => '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${replace(n, '_', '-')})')

// Flex Consumption sets runtime and package in functionAppConfig; Elastic Premium needs them here.
var planSettings = isFlex ? {} : {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'node'
  WEBSITE_RUN_FROM_PACKAGE: packageUrl
  WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: identityResourceId
}

var appSettings = union(identitySettings, redisSettings, strataSettings, secretSettings, planSettings)

var flexConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: '${storageBlobEndpoint}${deploymentContainer}'
      authentication: {
        type: 'UserAssignedIdentity'
        userAssignedIdentityResourceId: identityResourceId
      }
    }
  }
  scaleAndConcurrency: {
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    // `http` is the group every HTTP function (predict among them) scales in.
    alwaysReady: httpAlwaysReady > 0 ? [
      {
        name: 'http'
        instanceCount: httpAlwaysReady
      }
    ] : []
  }
  runtime: {
    name: 'node'
    version: '22'
  }
}

var flexSiteConfig = {
  minTlsVersion: '1.2'
  ftpsState: 'Disabled'
  http20Enabled: true
}

var premiumSiteConfig = {
  linuxFxVersion: 'Node|22'
  minTlsVersion: '1.2'
  ftpsState: 'Disabled'
  http20Enabled: true
  minimumElasticInstanceCount: premiumMinimumInstances
  functionAppScaleLimit: premiumMaximumInstances
}

module plan 'br/public:avm/res/web/serverfarm:0.7.0' = {
  name: 'plan'
  params: {
    name: '${name}-plan'
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    kind: isFlex ? 'functionapp' : 'elastic'
    reserved: true
    skuName: isFlex ? 'FC1' : premiumSku
    skuCapacity: isFlex ? 0 : premiumMinimumInstances
    elasticScaleEnabled: !isFlex
    maximumElasticWorkerCount: isFlex ? 1 : premiumMaximumInstances
    zoneRedundant: false
    // Flex Consumption plans take no diagnostic settings; the app's telemetry goes to Application Insights.
    diagnosticSettings: isFlex ? [] : [
      {
        workspaceResourceId: workspaceResourceId
      }
    ]
  }
}

module site 'br/public:avm/res/web/site:0.24.0' = {
  name: 'site'
  params: {
    name: name
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    kind: 'functionapp,linux'
    serverFarmResourceId: plan.outputs.resourceId
    managedIdentities: {
      userAssignedResourceIds: [
        identityResourceId
      ]
    }
    keyVaultAccessIdentityResourceId: identityResourceId
    httpsOnly: true
    clientAffinityEnabled: false
    // Callers and Event Grid (uploads) reach the app over the internet; function and admin keys guard the routes.
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetResourceId: empty(integrationSubnetId) ? null : integrationSubnetId
    outboundVnetRouting: empty(integrationSubnetId) ? null : {
      allTraffic: true
    }
    functionAppConfig: isFlex ? flexConfig : null
    siteConfig: isFlex ? flexSiteConfig : premiumSiteConfig
    configs: [
      {
        name: 'appsettings'
        // The template is the whole truth about settings: a redeploy removes hand-made ones.
        retainCurrentAppSettings: false
        properties: appSettings
      }
    ]
    // Deployments sign in with Entra ID (az / func use tokens); no basic-auth publishing credentials.
    basicPublishingCredentialsPolicies: [
      {
        name: 'ftp'
        allow: false
      }
      {
        name: 'scm'
        allow: false
      }
    ]
    // Flex Consumption apps take no diagnostic settings (Application Insights has the function
    // telemetry); Elastic Premium apps send their logs and metrics to the workspace.
    diagnosticSettings: isFlex ? [] : [
      {
        workspaceResourceId: workspaceResourceId
      }
    ]
  }
}

output name string = site.outputs.name
output resourceId string = site.outputs.resourceId
output defaultHostName string = site.outputs.defaultHostname
