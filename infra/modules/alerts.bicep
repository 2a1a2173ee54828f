// Azure Monitor alert rules (log search alerts over Application Insights), each evaluated every
// 5 minutes over the last 15, resolved automatically when the condition clears. README
// "Deploying to Azure" says what each one means and what to do.
//
// - predict p95 and the error rate come from the request telemetry the Functions host records
//   for every invocation (`requests`, one row per call, `operation_Name` = the function name),
//   so they work as soon as the app runs.
// - ingest lag and drift read the app's own metrics by their Prometheus names (served on
//   /api/metrics) from `customMetrics`: `strata_ingest_lag_seconds{source}` and
//   `strata_drift_detected{model,version,feature}` (issue 14). They fire once the app sends
//   those metrics to Application Insights.

@description('Prefix of the rule names.')
param namePrefix string

@description('Region of the rules.')
param location string

@description('Tags on the rules and the action group.')
param tags object

@description('Send Azure Verified Modules usage telemetry to Microsoft.')
param enableTelemetry bool

@description('Application Insights the rules query.')
param appInsightsResourceId string

@description('E-mail address the rules notify; empty: no action group.')
param alertEmail string

@description('predict p95 threshold in ms.')
param predictP95ThresholdMs int

@description('Error-rate threshold in percent.')
param errorRateThresholdPercent int

@description('Ingest-lag threshold in seconds.')
param ingestLagThresholdSeconds int

var rules = [
  {
    name: 'predict-p95'
    severity: 2
    description: 'p95 latency of POST /api/predict over 15 minutes is above the threshold (at least 20 requests).'
    query: '''
requests
| where operation_Name == "predict"
| summarize p95 = percentile(duration, 95), calls = count()
| where calls >= 20
'''
    measure: 'p95'
    threshold: predictP95ThresholdMs
    dimensions: []
  }
  {
    name: 'error-rate'
    severity: 1
    description: 'More than the threshold percent of invocations failed over 15 minutes: 5xx answers and failed triggers (4xx answers are the caller\'s and do not count).'
    query: '''
requests
| summarize calls = count(), failed = countif(success == false and not(toint(resultCode) between (400 .. 499)))
| where calls >= 20
| extend errorPercent = 100.0 * failed / calls
'''
    measure: 'errorPercent'
    threshold: errorRateThresholdPercent
    dimensions: []
  }
  {
    name: 'ingest-lag'
    severity: 2
    description: 'A stream source is behind: the newest event ingested was enqueued longer ago than the threshold (per source).'
    query: '''
customMetrics
| where name == "strata_ingest_lag_seconds"
| extend source = tostring(customDimensions.source)
| summarize lagSeconds = max(valueMax) by source
'''
    measure: 'lagSeconds'
    threshold: ingestLagThresholdSeconds
    dimensions: [
      {
        name: 'source'
        operator: 'Include'
        values: [
          '*'
        ]
      }
    ]
  }
  {
    name: 'drift'
    severity: 3
    description: 'Monitoring found drift in a model version\'s features or predictions in its last window (per model and version).'
    query: '''
customMetrics
| where name == "strata_drift_detected"
| extend model = tostring(customDimensions.model), version = tostring(customDimensions.version)
| summarize drifted = max(valueMax) by model, version
'''
    measure: 'drifted'
    threshold: 0
    dimensions: [
      {
        name: 'model'
        operator: 'Include'
        values: [
          '*'
        ]
      }
      {
        name: 'version'
        operator: 'Include'
        values: [
          '*'
        ]
      }
    ]
  }
]

module actionGroup 'br/public:avm/res/insights/action-group:0.8.0' = if (!empty(alertEmail)) {
  name: 'action-group'
  params: {
    name: '${namePrefix}-alerts'
    groupShortName: take('${namePrefix}alert', 12)
    tags: tags
    enableTelemetry: enableTelemetry
    emailReceivers: [
      {
        name: 'strata-alerts'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

module rule 'br/public:avm/res/insights/scheduled-query-rule:0.6.0' = [for r in rules: {
  name: 'alert-${r.name}'
  params: {
    name: '${namePrefix}-${r.name}'
    location: location
    tags: tags
    enableTelemetry: enableTelemetry
    alertDescription: r.description
    scopes: [
      appInsightsResourceId
    ]
    severity: r.severity
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    actions: {
      actionGroupResourceIds: empty(alertEmail) ? [] : [
        actionGroup!.outputs.resourceId
      ]
    }
    criterias: {
      allOf: [
        {
          query: r.query
          timeAggregation: 'Maximum'
          metricMeasureColumn: r.measure
          operator: 'GreaterThan'
          threshold: r.threshold
          dimensions: r.dimensions
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
  }
}]
