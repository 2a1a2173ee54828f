// Strata in Azure: one Function App (Elastic Premium, Linux, Node 20) with its storage account
// (Blob offline store, Tables for manifests/registries/Durable history), an Event Hubs
// namespace with one hub per stream source plus `predictions`, Azure Cache for Redis (the
// online store) and Application Insights. App settings use the names shared/config reads.
targetScope = 'resourceGroup'

@description('Short lowercase prefix for resource names (3-11 letters/digits).')
@minLength(3)
@maxLength(11)
param namePrefix string

param location string = resourceGroup().location

@description('Event hubs to create: the stream sources of the feature definitions, and the prediction log.')
param eventHubs array = [
  'clicks'
  'purchases'
  'predictions'
]

@description('Partitions per event hub.')
@minValue(1)
@maxValue(32)
param eventHubPartitions int = 4

@allowed([ 'Basic', 'Standard' ])
param eventHubSku string = 'Standard'

@allowed([ 'Basic', 'Standard', 'Premium' ])
param redisSku string = 'Standard'

@description('Redis cache size (C0..C6 for Basic/Standard, P1..P5 for Premium: the number).')
param redisCapacity int = 1

@allowed([ 'EP1', 'EP2', 'EP3' ])
param planSku string = 'EP1'

@description('Largest file accepted by POST /api/sources/{source}/files, in bytes.')
param uploadMaxBytes int = 104857600

var suffix = uniqueString(resourceGroup().id, namePrefix)

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    name: '${namePrefix}-${suffix}'
    location: location
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: toLower(take('${namePrefix}${suffix}', 24))
    location: location
  }
}

module eventhubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  params: {
    name: '${namePrefix}-eh-${suffix}'
    location: location
    sku: eventHubSku
    hubs: eventHubs
    partitionCount: eventHubPartitions
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  params: {
    name: '${namePrefix}-redis-${suffix}'
    location: location
    sku: redisSku
    capacity: redisCapacity
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: '${namePrefix}-func-${suffix}'
    location: location
    planSku: planSku
    storageAccountName: storage.outputs.name
    eventHubNamespaceName: eventhubs.outputs.namespaceName
    eventHubAuthRuleName: eventhubs.outputs.authRuleName
    redisName: redis.outputs.name
    appInsightsConnectionString: monitoring.outputs.connectionString
    uploadMaxBytes: uploadMaxBytes
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = functionApp.outputs.url
output storageAccountName string = storage.outputs.name
output eventHubNamespace string = eventhubs.outputs.namespaceName
