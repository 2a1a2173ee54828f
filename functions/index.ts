/**
 * The app's entry point (package.json `main`): importing a module registers its functions,
 * exactly as on Azure. The local host loads this same file.
 */
import './health';
import './ingest-events';
import './upload-file';
import './upload-blob';
import './dead-letter';
import './retract-future';
import './features';
import './training-sets';
import './training-sets-read';
import './definitions';
import './window-flush';
import './offline-maintenance';
import './models';
import './models-register';
import './models-deploy';
import './models-stats';
import './predict';
import './metrics';
import './dag';
import '../orchestrations/backfill';
import '../orchestrations/backfill-activities';
import './backfills';
import './plan';
import './plan-view-status';
import './plan-timer';
import './lineage';
import './dashboard';
import './overview';
import './serving-models';
import './models-timeseries';
import './backfills-list';
import './telemetry';
