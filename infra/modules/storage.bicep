// The Function App's storage: host state, Durable Functions history, the offline store
// (Parquet segments in Blob), manifests and registries (Tables).
param name string
param location string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

// Containers the app creates on first use too; declared here so permissions and lifecycle rules can target them.
resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for c in [ 'offline', 'training-sets', 'uploads', 'dead-letter', 'models' ]: {
  parent: blobService
  name: c
}]

output name string = account.name
