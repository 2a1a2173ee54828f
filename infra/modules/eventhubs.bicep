param name string
param location string
param sku string
param hubs array
param partitionCount int

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: name
  location: location
  sku: { name: sku, tier: sku, capacity: 1 }
  properties: {
    minimumTlsVersion: '1.2'
  }
}

resource eventHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = [for hub in hubs: {
  parent: namespace
  name: hub
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: sku == 'Basic' ? 1 : 7
  }
}]

// One rule for the app: it both listens (ingest triggers) and sends (prediction log).
resource appRule 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {
  parent: namespace
  name: 'strata-app'
  properties: {
    rights: [ 'Listen', 'Send' ]
  }
}

output namespaceName string = namespace.name
output authRuleName string = appRule.name
