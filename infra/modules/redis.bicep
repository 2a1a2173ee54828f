param name string
param location string
param sku string
param capacity int

resource cache 'Microsoft.Cache/redis@2024-03-01' = {
  name: name
  location: location
  properties: {
    sku: {
      name: sku
      family: sku == 'Premium' ? 'P' : 'C'
      capacity: capacity
    }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    redisConfiguration: {
      // Online features expire by their view's TTL; evict the soonest-expiring first under memory pressure.
      'maxmemory-policy': 'volatile-ttl'
    }
  }
}

output name string = cache.name
