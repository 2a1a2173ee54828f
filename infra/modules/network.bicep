// Private networking (main.bicep `privateNetworking`): a VNet with a subnet the app integrates
// with (outbound) and one for private endpoints, and the private DNS zones that make the
// services' public names resolve to those endpoints inside the VNet.

@description('Name of the VNet.')
param name string

@description('Region of the VNet.')
param location string

@description('Tags on the VNet and the zones.')
param tags object

@description('Send Azure Verified Modules usage telemetry to Microsoft.')
param enableTelemetry bool

@description('Address space of the VNet.')
param addressPrefix string

@description('Subnet the app integrates with.')
param appSubnetPrefix string

@description('Subnet of the private endpoints.')
param privateEndpointSubnetPrefix string

@description('Delegation of the app subnet: Microsoft.App/environments (Flex Consumption) or Microsoft.Web/serverFarms (Elastic Premium).')
param appSubnetDelegation string

@description('Log Analytics workspace for the diagnostic settings.')
param workspaceResourceId string

// Fixed order: the outputs below index it.
var zones = [
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.queue.${environment().suffixes.storage}'
  'privatelink.table.${environment().suffixes.storage}'
  'privatelink.servicebus.windows.net'
  'privatelink.redis.azure.net'
  'privatelink.vaultcore.azure.net'
]

module vnet 'br/public:avm/res/network/virtual-network:0.10.1' = {
  name: 'vnet'
  params: {
    name: name
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    addressPrefixes: [
      addressPrefix
    ]
    subnets: [
      {
        name: 'app'
        addressPrefix: appSubnetPrefix
        delegation: appSubnetDelegation
      }
      {
        name: 'private-endpoints'
        addressPrefix: privateEndpointSubnetPrefix
        privateEndpointNetworkPolicies: 'Disabled'
      }
    ]
    diagnosticSettings: [
      {
        workspaceResourceId: workspaceResourceId
      }
    ]
  }
}

module dnsZones 'br/public:avm/res/network/private-dns-zone:0.8.1' = [for zone in zones: {
  name: 'dns-${zone}'
  params: {
    name: zone
    tags: tags
    enableTelemetry: enableTelemetry
    virtualNetworkLinks: [
      {
        virtualNetworkResourceId: vnet.outputs.resourceId
        registrationEnabled: false
      }
    ]
  }
}]

output appSubnetId string = vnet.outputs.subnetResourceIds[0]
output privateEndpointSubnetId string = vnet.outputs.subnetResourceIds[1]
output blobDnsZoneId string = dnsZones[0].outputs.resourceId
output queueDnsZoneId string = dnsZones[1].outputs.resourceId
output tableDnsZoneId string = dnsZones[2].outputs.resourceId
output eventHubsDnsZoneId string = dnsZones[3].outputs.resourceId
output redisDnsZoneId string = dnsZones[4].outputs.resourceId
output keyVaultDnsZoneId string = dnsZones[5].outputs.resourceId
