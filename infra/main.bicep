// Strata in Azure. One Function App (Flex Consumption on Node 22 by default, Elastic Premium
// behind `hostingPlan`) that reaches everything with one user-assigned managed identity: no
// account key, Event Hubs key or Redis key in its settings. Around it: a storage account
// (host state, Durable history, the offline store, registries; shared keys off), an Event Hubs
// namespace with one hub per stream source of the feature definitions (infra/hubs.parameters.json,
// written by `npm run infra:hubs`) and a consumer group for the app (local auth off), Azure
// Managed Redis (the online store, Entra ID auth), Key Vault (for anything that stays a
// secret), Application Insights on a Log Analytics workspace that every resource sends its
// diagnostics to, Azure Monitor alert rules, and optional private networking.
//
// Resource modules are Azure Verified Modules (br/public:avm/...), pinned to exact versions.
// The app settings use the names shared/config reads (test/infra checks it); README
// "Deploying to Azure" walks through a deployment.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------- naming and placement

@description('Short lowercase prefix for resource names (3-11 letters/digits).')
@minLength(3)
@maxLength(11)
param namePrefix string

@description('Region for every resource (Flex Consumption and Azure Managed Redis must both be offered there); defaults to the resource group\'s.')
param location string = resourceGroup().location

@description('Tags put on every resource.')
param tags object = {}

@description('Send Azure Verified Modules usage telemetry to Microsoft (off by default).')
param enableTelemetry bool = false

// ---------------------------------------------------------------- hosting

@description('FlexConsumption: scales to zero and per function group, always-ready HTTP instances, Event Grid blob trigger. ElasticPremium: pre-warmed instances for the whole app, slots, diagnostic settings on the app; billed per instance around the clock. README "Hosting plan" has the trade-off.')
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string = 'FlexConsumption'

@description('Flex Consumption: instances kept running for the HTTP group (predict and every other HTTP route), so predict never waits for a cold start; 0 scales it to zero.')
@minValue(0)
@maxValue(20)
param httpAlwaysReady int = 1

@description('Flex Consumption: memory of one instance in MB (CPU grows with it).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Flex Consumption: the most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Elastic Premium: plan size.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string = 'EP1'

@description('Elastic Premium: instances that always run (billed around the clock).')
@minValue(1)
@maxValue(20)
param premiumMinimumInstances int = 1

@description('Elastic Premium: the most instances the plan scales out to.')
@minValue(1)
@maxValue(100)
param premiumMaximumInstances int = 20

// ---------------------------------------------------------------- app settings

@description('Largest file accepted by POST /api/sources/{source}/files, in bytes (STRATA_UPLOAD_MAX_BYTES). Bigger files go into the uploads container.')
@minValue(1)
param uploadMaxBytes int = 104857600

@description('How long a predict session keeps its model version after a deployment changes, in ms (STRATA_SESSION_GRACE_MS).')
@minValue(0)
param sessionGraceMs int = 30000

@description('POST /api/training-sets with a spine of more rows than this runs as a Durable job and answers 202 with status links (STRATA_TRAINING_SET_ASYNC_ROWS); smaller sets answer at once. HTTP requests end after 230 s on Azure.')
@minValue(0)
param trainingSetAsyncRows int = 100000

@description('Log level of the app (STRATA_LOG_LEVEL).')
@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@description('When the monitoring timer closes finished windows (STRATA_MONITOR_SCHEDULE, six-field NCRONTAB).')
param monitorSchedule string = '0 */15 * * * *'

@description('Length of one monitoring window (STRATA_MONITOR_WINDOW: "1h", "30m").')
param monitorWindow string = '1h'

@description('Alert webhook (STRATA_ALERT_WEBHOOK_URL); empty: alerts go to the log only.')
param alertWebhookUrl string = ''

@description('Key Vault secret holding the HMAC key that signs alert webhooks (STRATA_ALERT_WEBHOOK_SECRET); empty: unsigned.')
param alertWebhookSecretName string = ''

@description('Names of app settings whose values live in Key Vault as secrets (set them first: `az keyvault secret set --name <NAME with _ as -> ...`); each becomes a Key Vault reference.')
param keyVaultSecretSettings array = []

// ---------------------------------------------------------------- Event Hubs

@description('Event hubs to create: one per stream source of the feature definitions, the prediction log among them. Written by `npm run infra:hubs` into infra/hubs.parameters.json; pass that file.')
param eventHubs array

@description('The hub the prediction log goes to (STRATA_PREDICTIONS_HUB): one of eventHubs. Written with eventHubs.')
param predictionsHub string

@description('Partitions per hub: at most this many instances read one hub at once.')
@minValue(1)
@maxValue(32)
param eventHubPartitions int = 4

@description('Days an event stays readable in a hub: how long the app may be down (or re-read) without losing events.')
@minValue(1)
@maxValue(7)
param eventHubRetentionDays int = 7

@description('Throughput units the namespace starts with (1 unit: 1 MB/s or 1000 events/s in, 2 MB/s out).')
@minValue(1)
@maxValue(20)
param eventHubThroughputUnits int = 1

@description('Let Event Hubs add throughput units under load (auto-inflate), up to eventHubMaxThroughputUnits.')
param eventHubAutoInflate bool = true

@description('Upper limit of throughput units for auto-inflate.')
@minValue(1)
@maxValue(20)
param eventHubMaxThroughputUnits int = 10

@description('Consumer group the app reads every hub with (EVENTHUB_CONSUMER_GROUP); give other readers their own.')
param eventHubConsumerGroup string = 'strata'

// ---------------------------------------------------------------- Redis

@description('Azure Managed Redis SKU of the online store (Balanced_B1: 1 GB; memory and throughput grow with the number).')
@allowed([
  'Balanced_B0'
  'Balanced_B1'
  'Balanced_B3'
  'Balanced_B5'
  'Balanced_B10'
  'Balanced_B20'
  'Balanced_B50'
  'MemoryOptimized_M10'
  'MemoryOptimized_M20'
  'MemoryOptimized_M50'
  'ComputeOptimized_X3'
  'ComputeOptimized_X5'
  'ComputeOptimized_X10'
])
param redisSku string = 'Balanced_B1'

@description('How the app signs in to Redis: EntraId (the managed identity; access keys disabled) or AccessKey (an access key kept in Key Vault, REDIS_URL a Key Vault reference).')
@allowed([
  'EntraId'
  'AccessKey'
])
param redisAuthentication string = 'EntraId'

@description('Keep a replica of the online store in another zone (doubles the price; reads survive a node failure).')
param redisHighAvailability bool = true

// ---------------------------------------------------------------- storage

@description('Redundancy of the storage account (offline store, registries, host state).')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSku string = 'Standard_ZRS'

@description('Object id of a user or pipeline to give Storage Blob Data Contributor on the account (uploads, the Elastic Premium package); empty: none.')
param deployerPrincipalId string = ''

@description('Subscribe the uploads blob trigger to Blob Created events (Event Grid). The webhook key exists once the code is published: deploy with false, publish, deploy again with true.')
param subscribeUploads bool = false

// ---------------------------------------------------------------- networking

@description('Private networking: the app joins a VNet (outbound), storage, Event Hubs and Redis (and Key Vault on Elastic Premium) get private endpoints and no public network access.')
param privateNetworking bool = false

@description('Address space of the VNet (privateNetworking).')
param vnetAddressPrefix string = '10.40.0.0/16'

@description('Subnet the app integrates with (privateNetworking; delegated to the plan, /27 or larger).')
param appSubnetPrefix string = '10.40.0.0/24'

@description('Subnet of the private endpoints (privateNetworking).')
param privateEndpointSubnetPrefix string = '10.40.1.0/24'

// ---------------------------------------------------------------- monitoring

@description('Days the Log Analytics workspace keeps logs and metrics.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('E-mail address alerts notify; empty: the rules fire without notifying anyone.')
param alertEmail string = ''

@description('Alert when the p95 latency of predict over 15 minutes exceeds this many milliseconds.')
@minValue(1)
param predictP95ThresholdMs int = 250

@description('Alert when more than this percent of invocations fail over 15 minutes (server errors and failed triggers; 4xx answers are the caller\'s).')
@minValue(1)
@maxValue(100)
param errorRateThresholdPercent int = 2

@description('Alert when a stream source\'s ingest lag (now minus the newest processed event\'s enqueued time) exceeds this many seconds.')
@minValue(1)
param ingestLagThresholdSeconds int = 300

// ---------------------------------------------------------------- names

var suffix = uniqueString(resourceGroup().id, namePrefix)
var names = {
  identity: '${namePrefix}-id-${suffix}'
  logs: '${namePrefix}-logs-${suffix}'
  insights: '${namePrefix}-ai-${suffix}'
  storage: toLower(take('${namePrefix}${suffix}', 24))
  eventHubs: '${namePrefix}-eh-${suffix}'
  redis: '${namePrefix}-redis-${suffix}'
  keyVault: toLower(take('${namePrefix}kv${suffix}', 24))
  functionApp: '${namePrefix}-func-${suffix}'
  network: '${namePrefix}-vnet-${suffix}'
}

// Blob containers the code uses (it also creates them on first use), and the app package.
var deploymentContainer = 'app-package'
var blobContainers = [
  'offline'
  'training-sets'
  'spines'
  'training-runs'
  'uploads'
  'dead-letter'
  'models'
  'baselines'
  deploymentContainer
]
var containers = [for c in blobContainers: {
  name: c
  publicAccess: 'None'
}]
// Each hub gets the app's consumer group; no hub-level SAS rules (local auth is off anyway).
var hubs = [for hub in eventHubs: {
  name: hub
  partitionCount: eventHubPartitions
  messageRetentionInDays: eventHubRetentionDays
  authorizationRules: []
  consumergroups: [
    {
      name: eventHubConsumerGroup
    }
  ]
}]
var redisUrlSecretName = 'REDIS-URL'
var diagnostics = [
  {
    workspaceResourceId: logAnalytics.outputs.resourceId
  }
]
var appPrincipal = identity.outputs.principalId
var keyVaultPrivate = privateNetworking && hostingPlan == 'ElasticPremium'

// ---------------------------------------------------------------- identity and monitoring

module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.6.0' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.16.1' = {
  name: 'log-analytics'
  params: {
    name: names.logs
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    skuName: 'PerGB2018'
    dataRetention: logRetentionDays
    features: {
      disableLocalAuth: true
    }
    diagnosticSettings: [
      {
        useThisWorkspace: true
      }
    ]
  }
}

module appInsights 'br/public:avm/res/insights/component:0.8.0' = {
  name: 'app-insights'
  params: {
    name: names.insights
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    workspaceResourceId: logAnalytics.outputs.resourceId
    applicationType: 'web'
    kind: 'web'
    // Telemetry only from Entra-authenticated senders: the app sends with its identity.
    disableLocalAuth: true
    retentionInDays: 90
    diagnosticSettings: diagnostics
    roleAssignments: [
      {
        roleDefinitionIdOrName: 'Monitoring Metrics Publisher'
        principalId: appPrincipal
        principalType: 'ServicePrincipal'
      }
    ]
  }
}

// ---------------------------------------------------------------- networking (optional)

module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'network'
  params: {
    name: names.network
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    appSubnetDelegation: hostingPlan == 'FlexConsumption' ? 'Microsoft.App/environments' : 'Microsoft.Web/serverFarms'
    workspaceResourceId: logAnalytics.outputs.resourceId
  }
}

// ---------------------------------------------------------------- storage

module storage 'br/public:avm/res/storage/storage-account:0.33.0' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    kind: 'StorageV2'
    skuName: storageSku
    // Entra ID only: no account key or SAS works against this account.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
    blobServices: {
      deleteRetentionPolicyEnabled: true
      deleteRetentionPolicyDays: 7
      containerDeleteRetentionPolicyEnabled: true
      containerDeleteRetentionPolicyDays: 7
      containers: containers
      diagnosticSettings: diagnostics
    }
    queueServices: {
      diagnosticSettings: diagnostics
    }
    tableServices: {
      diagnosticSettings: diagnostics
    }
    diagnosticSettings: diagnostics
    privateEndpoints: privateNetworking ? [
      {
        service: 'blob'
        subnetResourceId: network!.outputs.privateEndpointSubnetId
        privateDnsZoneGroup: {
          privateDnsZoneGroupConfigs: [
            {
              privateDnsZoneResourceId: network!.outputs.blobDnsZoneId
            }
          ]
        }
      }
      {
        service: 'queue'
        subnetResourceId: network!.outputs.privateEndpointSubnetId
        privateDnsZoneGroup: {
          privateDnsZoneGroupConfigs: [
            {
              privateDnsZoneResourceId: network!.outputs.queueDnsZoneId
            }
          ]
        }
      }
      {
        service: 'table'
        subnetResourceId: network!.outputs.privateEndpointSubnetId
        privateDnsZoneGroup: {
          privateDnsZoneGroupConfigs: [
            {
              privateDnsZoneResourceId: network!.outputs.tableDnsZoneId
            }
          ]
        }
      }
    ] : []
    roleAssignments: concat([
      {
        // Host state (leases, keys, checkpoints), the offline store, training sets, models, the package.
        roleDefinitionIdOrName: 'Storage Blob Data Owner'
        principalId: appPrincipal
        principalType: 'ServicePrincipal'
      }
      {
        // Durable Functions work items, blob-trigger poison messages.
        roleDefinitionIdOrName: 'Storage Queue Data Contributor'
        principalId: appPrincipal
        principalType: 'ServicePrincipal'
      }
      {
        // Manifests, registries, ledger, Durable history.
        roleDefinitionIdOrName: 'Storage Table Data Contributor'
        principalId: appPrincipal
        principalType: 'ServicePrincipal'
      }
    ], empty(deployerPrincipalId) ? [] : [
      {
        roleDefinitionIdOrName: 'Storage Blob Data Contributor'
        principalId: deployerPrincipalId
      }
    ])
  }
}

// ---------------------------------------------------------------- Event Hubs

module eventHubNamespace 'br/public:avm/res/event-hub/namespace:0.15.0' = {
  name: 'event-hubs'
  params: {
    name: names.eventHubs
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    skuName: 'Standard'
    skuCapacity: eventHubThroughputUnits
    isAutoInflateEnabled: eventHubAutoInflate
    maximumThroughputUnits: eventHubMaxThroughputUnits
    // Entra ID only: no SAS key exists or works.
    disableLocalAuth: true
    authorizationRules: []
    minimumTlsVersion: '1.2'
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    eventhubs: hubs
    diagnosticSettings: diagnostics
    privateEndpoints: privateNetworking ? [
      {
        subnetResourceId: network!.outputs.privateEndpointSubnetId
        privateDnsZoneGroup: {
          privateDnsZoneGroupConfigs: [
            {
              privateDnsZoneResourceId: network!.outputs.eventHubsDnsZoneId
            }
          ]
        }
      }
    ] : []
    roleAssignments: [
      {
        // The prediction log (and Event Hubs outputs).
        roleDefinitionIdOrName: 'Azure Event Hubs Data Sender'
        principalId: appPrincipal
        principalType: 'ServicePrincipal'
      }
      {
        // The ingest triggers, one per stream source.
        roleDefinitionIdOrName: 'Azure Event Hubs Data Receiver'
        principalId: appPrincipal
        principalType: 'ServicePrincipal'
      }
    ]
  }
}

// ---------------------------------------------------------------- Redis (online store)

module redis 'br/public:avm/res/cache/redis-enterprise:0.5.1' = {
  name: 'redis'
  params: {
    name: names.redis
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    skuName: redisSku
    highAvailability: redisHighAvailability ? 'Enabled' : 'Disabled'
    minimumTlsVersion: '1.2'
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    diagnosticSettings: diagnostics
    database: {
      accessKeysAuthentication: redisAuthentication == 'AccessKey' ? 'Enabled' : 'Disabled'
      clientProtocol: 'Encrypted'
      // One endpoint for a non-cluster client; the online store's compare-and-set touches one key.
      clusteringPolicy: 'EnterpriseCluster'
      // Online rows expire by their view's TTL: under memory pressure the soonest-expiring go first.
      evictionPolicy: 'VolatileTTL'
      port: 10000
      accessPolicyAssignments: [
        {
          name: 'strata-app'
          userObjectId: appPrincipal
          accessPolicyName: 'default'
        }
      ]
      diagnosticSettings: diagnostics
    }
    privateEndpoints: privateNetworking ? [
      {
        subnetResourceId: network!.outputs.privateEndpointSubnetId
        privateDnsZoneGroup: {
          privateDnsZoneGroupConfigs: [
            {
              privateDnsZoneResourceId: network!.outputs.redisDnsZoneId
            }
          ]
        }
      }
    ] : []
  }
}

// ---------------------------------------------------------------- Key Vault

module keyVault 'br/public:avm/res/key-vault/vault:0.14.0' = {
  name: 'key-vault'
  params: {
    name: names.keyVault
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    sku: 'standard'
    enableRbacAuthorization: true
    enablePurgeProtection: true
    softDeleteRetentionInDays: 7
    enableVaultForDeployment: false
    enableVaultForTemplateDeployment: false
    enableVaultForDiskEncryption: false
    // Flex Consumption resolves Key Vault references only from a vault with public access (RBAC
    // still guards every read); Elastic Premium reads it through the VNet.
    publicNetworkAccess: keyVaultPrivate ? 'Disabled' : 'Enabled'
    secrets: redisAuthentication == 'AccessKey' ? [
      {
        name: redisUrlSecretName
        value: 'rediss://:${redis.outputs.primaryAccessKey!}@${redis.outputs.hostName}:${redis.outputs.port}'
      }
    ] : []
    diagnosticSettings: diagnostics
    privateEndpoints: keyVaultPrivate ? [
      {
        subnetResourceId: network!.outputs.privateEndpointSubnetId
        privateDnsZoneGroup: {
          privateDnsZoneGroupConfigs: [
            {
              privateDnsZoneResourceId: network!.outputs.keyVaultDnsZoneId
            }
          ]
        }
      }
    ] : []
    roleAssignments: [
      {
        // Key Vault references in app settings.
        roleDefinitionIdOrName: 'Key Vault Secrets User'
        principalId: appPrincipal
        principalType: 'ServicePrincipal'
      }
    ]
  }
}

// ---------------------------------------------------------------- the Function App

module functionApp 'modules/functionapp.bicep' = {
  name: 'function-app'
  params: {
    name: names.functionApp
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    hostingPlan: hostingPlan
    httpAlwaysReady: httpAlwaysReady
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    premiumSku: premiumSku
    premiumMinimumInstances: premiumMinimumInstances
    premiumMaximumInstances: premiumMaximumInstances
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.serviceEndpoints.blob
    deploymentContainer: deploymentContainer
    eventHubNamespaceName: eventHubNamespace.outputs.name
    eventHubConsumerGroup: eventHubConsumerGroup
    predictionsHub: predictionsHub
    redisHostName: redis.outputs.hostName
    redisPort: redis.outputs.port
    redisAuthentication: redisAuthentication
    keyVaultName: keyVault.outputs.name
    redisUrlSecretName: redisUrlSecretName
    keyVaultSecretSettings: keyVaultSecretSettings
    appInsightsConnectionString: appInsights.outputs.connectionString
    workspaceResourceId: logAnalytics.outputs.resourceId
    integrationSubnetId: privateNetworking ? network!.outputs.appSubnetId : ''
    uploadMaxBytes: uploadMaxBytes
    sessionGraceMs: sessionGraceMs
    trainingSetAsyncRows: trainingSetAsyncRows
    logLevel: logLevel
    monitorSchedule: monitorSchedule
    monitorWindow: monitorWindow
    alertWebhookUrl: alertWebhookUrl
    alertWebhookSecretName: alertWebhookSecretName
  }
}

// ---------------------------------------------------------------- uploads via Event Grid

module uploadEvents 'modules/upload-events.bicep' = if (subscribeUploads) {
  name: 'upload-events'
  params: {
    location: location
    tags: tags
    storageAccountResourceId: storage.outputs.resourceId
    functionAppName: functionApp.outputs.name
    workspaceResourceId: logAnalytics.outputs.resourceId
  }
}

// ---------------------------------------------------------------- alerts

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: namePrefix
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    appInsightsResourceId: appInsights.outputs.resourceId
    alertEmail: alertEmail
    predictP95ThresholdMs: predictP95ThresholdMs
    errorRateThresholdPercent: errorRateThresholdPercent
    ingestLagThresholdSeconds: ingestLagThresholdSeconds
  }
}

// ---------------------------------------------------------------- outputs (README commands use them)

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = 'https://${functionApp.outputs.defaultHostName}'
output storageAccountName string = storage.outputs.name
output eventHubNamespace string = '${eventHubNamespace.outputs.name}.servicebus.windows.net'
output redisHostName string = redis.outputs.hostName
output keyVaultName string = keyVault.outputs.name
output identityClientId string = identity.outputs.clientId
output identityPrincipalId string = identity.outputs.principalId
output packageUrl string = '${storage.outputs.serviceEndpoints.blob}${deploymentContainer}/strata.zip'
