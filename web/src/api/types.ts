// Names for the API's shapes, taken from the types generated from the server's OpenAPI
// schema (schema.d.ts, written by `npm run gen:api`), so page and server cannot drift apart.
// Every string in these shapes may come from a device and is untrusted: render it as text.
import type { components, operations } from './schema';

type Schemas = components['schemas'];

/** An ISO-8601 time in UTC, such as "2026-12-04T14:11:03Z". */
export type IsoTime = string;

export type Role = Schemas['Role'];

export type LoginRequest = Schemas['LoginIn'];
export type LoginResponse = Schemas['LoginOut'];
export type MeResponse = Schemas['MeOut'];
export type User = Pick<MeResponse, 'name' | 'role'>;

export type Tag = Schemas['TagOut'];
export type TagKind = Tag['kind'];

export type DeviceSummary = Schemas['DeviceSummary'];
export type DevicePage = Schemas['DevicePage'];
export type HealthState = DeviceSummary['health_state'];
export type RiskLevel = NonNullable<DeviceSummary['risk_level']>;
export type ExposureLevel = NonNullable<DeviceSummary['exposure_level']>;
export type KnownFrom = NonNullable<DeviceSummary['known_from']>;
export type DeviceSource = DeviceSummary['sources'][number];

export type DeviceListQuery = NonNullable<
  operations['list_devices_api_devices_get']['parameters']['query']
>;
export type DeviceSort = NonNullable<DeviceListQuery['sort']>;

export type DeviceDetail = Schemas['DeviceDetail'];
export type SecurityInfo = Schemas['SecurityInfo'];
export type Resources = Schemas['Resources'];
export type DeviceDetails = Schemas['DeviceDetails'];
export type NetworkActivity = Schemas['NetworkActivity'];
export type DirectoryData = Schemas['DirectoryData'];
export type LoggedOnUser = Schemas['LoggedOnUserOut'];
export type Inventory = Schemas['InventoryInfo'];
export type AgentStatus = Schemas['AgentStatus'];
export type AgentInfo = Schemas['AgentInfo'];

export type SoftwareItem = Schemas['SoftwareOut'];
export type SoftwarePage = Schemas['SoftwarePage'];
export type SoftwareListQuery = NonNullable<
  operations['list_software_api_devices__device_id__software_get']['parameters']['query']
>;
export type SoftwareSort = NonNullable<SoftwareListQuery['sort']>;
export type SoftwareDetail = Schemas['SoftwareDetail'];
export type SoftwareVulnerability = Schemas['SoftwareVulnerability'];

/** One finding in the discovered vulnerabilities list; with `fields`, only those are present. */
export type VulnerabilityItem = Schemas['VulnerabilityItem'];
export type VulnerabilityPage = Schemas['VulnerabilityPage'];
/** What the device's software was checked against, per kind of software. */
export type Coverage = Schemas['Coverage'];
export type CoverageGroup = Schemas['CoverageGroup'];
export type VulnerabilityDetail = Schemas['VulnerabilityDetail'];
export type VulnerabilityListQuery = NonNullable<
  operations['list_device_vulnerabilities_api_devices__device_id__vulnerabilities_get']['parameters']['query']
>;
export type VulnerabilitySort = NonNullable<VulnerabilityListQuery['sort']>;
export type VulnerabilitySeverity = NonNullable<VulnerabilityDetail['severity']>;
export type FindingStatus = VulnerabilityDetail['status'];
export type MatchStatus = VulnerabilityDetail['match'];
export type FindingPatch = Schemas['FindingPatch'];
export type Threats = Schemas['Threats'];
export type EvidenceOut = Schemas['Evidence'];

export type MissingUpdatesPage = Schemas['MissingUpdatesPage'];
export type MissingUpdate = Schemas['MissingUpdateOut'];
export type MissingAdvisory = Schemas['MissingAdvisoryOut'];
export type UpdateCve = Schemas['UpdateCveOut'];
export type MissingUpdatesQuery = NonNullable<
  operations['list_missing_updates_api_devices__device_id__missing_updates_get']['parameters']['query']
>;
export type MissingUpdatesSort = NonNullable<MissingUpdatesQuery['sort']>;

export type TimelineQuery = NonNullable<
  operations['get_timeline_api_devices__device_id__timeline_get']['parameters']['query']
>;
export type TimelineOrder = NonNullable<TimelineQuery['order']>;
export type TimelinePage = Schemas['TimelinePage'];
/** One row of the timeline: with `fields`, only the fields asked for are present. */
export type TimelineItem = Schemas['TimelineItem'];
export type ProcessInfo = Schemas['ProcessOut'];
export type ParentInfo = Schemas['ParentOut'];
export type EventTarget = Schemas['TargetOut'];
export type HistogramQuery = NonNullable<
  operations['get_histogram_api_devices__device_id__timeline_histogram_get']['parameters']['query']
>;
export type Histogram = Schemas['Histogram'];
export type TimelineExportQuery = NonNullable<
  operations['export_timeline_api_devices__device_id__timeline_export_get']['parameters']['query']
>;
export type HistogramBucket = Schemas['Bucket'];
export type EventDetail = Schemas['EventDetail'];
export type ProcessTree = Schemas['ProcessTree'];
export type ProcessTreeNode = Schemas['Node'];
export type ProcessTreeEdge = Schemas['Edge'];

export type AlertListQuery = NonNullable<
  operations['list_device_alerts_api_devices__device_id__alerts_get']['parameters']['query']
>;
export type AlertSort = NonNullable<AlertListQuery['sort']>;
/** One row of an alert list: with `fields`, only `id` and the fields asked for are present. */
export type AlertItem = Schemas['AlertItem'];
export type AlertPage = Schemas['AlertPage'];
export type AlertDetail = Schemas['AlertDetail'];
export type AlertPatch = Schemas['AlertPatch'];
export type AlertSeverity = AlertDetail['severity'];
export type AlertStatus = AlertDetail['status'];
export type AlertClassification = NonNullable<AlertDetail['classification']>;
export type AlertDetermination = NonNullable<AlertDetail['determination']>;
export type RiskReason = Schemas['RiskReason'];
export type ExposureInfo = Schemas['ExposureInfo'];
export type ExposureDriver = Schemas['ExposureDriver'];

export type RecommendationListQuery = NonNullable<
  operations['list_device_recommendations_api_devices__device_id__recommendations_get']['parameters']['query']
>;
export type RecommendationSort = NonNullable<RecommendationListQuery['sort']>;
/** One row of a recommendation list: with `fields`, only `id` and the fields asked for. */
export type RecommendationItem = Schemas['RecommendationItem'];
export type RecommendationPage = Schemas['RecommendationPage'];
export type RecommendationDetail = Schemas['RecommendationDetail'];
export type RecommendationPatch = Schemas['RecommendationPatch'];
export type RecommendationStatus = RecommendationDetail['status'];

/** The all-devices alert queue's query: the device list's filters plus rule, device and time. */
export type AlertQueueQuery = NonNullable<
  operations['list_alerts_api_alerts_get']['parameters']['query']
>;

export type IncidentListQuery = NonNullable<
  operations['list_incidents_api_incidents_get']['parameters']['query']
>;
export type IncidentItem = Schemas['IncidentItem'];
export type IncidentPage = Schemas['IncidentPage'];
export type IncidentDetail = Schemas['IncidentDetail'];
export type IncidentAlert = Schemas['IncidentAlert'];
export type IncidentPatch = Schemas['IncidentPatch'];
export type IncidentStatus = IncidentItem['status'];

export type Preferences = Schemas['Preferences-Output'];
export type PreferencesUpdate = Schemas['Preferences-Input'];
export type TablePreferences = Schemas['TablePreferences-Output'];

export type ContainmentInfo = Schemas['ContainmentInfo'];
export type PendingActionRef = Schemas['PendingActionRef'];
export type BulkTagsRequest = Schemas['BulkTagsIn'];
export type BulkTagsResponse = Schemas['BulkTagsOut'];
export type BulkTagResult = Schemas['BulkTagResult'];

export type ActionRequest = Schemas['ActionIn'];
export type ActionType = ActionRequest['type'];
export type ActionDetail = Schemas['ActionOut'];
export type ActionState = ActionDetail['state'];
/** One row of an action list: with `fields`, only `id` and the fields asked for are present. */
export type ActionItem = Schemas['ActionItem'];
export type ActionPage = Schemas['ActionPage'];
export type ActionListQuery = NonNullable<
  operations['list_actions_api_actions_get']['parameters']['query']
>;
export type ActionSort = NonNullable<ActionListQuery['sort']>;
export type CancelRequest = Schemas['CancelIn'];

/**
 * The parameters of isolate and restrict_app_execution. The API takes them as a free object
 * (validated on the server with hostwatch.protocol's IsolateParameters and RestrictParameters),
 * so the schema has no names for them; these mirror those models.
 */
export interface IsolateParameters {
  mode: 'full' | 'selective';
  allow_users: string[];
  allow_cgroups: string[];
}

export interface RestrictParameters {
  allow_sha256: string[];
  allow_paths: string[];
  /** Directories or mount points to enforce on; left out, every local filesystem. */
  scope?: string[];
}

/**
 * An RFC 9457 problem-details body, as every API error returns. Written by hand: errors
 * come from one handler (hostwatch.api.problems), not from the routes' schemas.
 */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  request_id?: string;
  /** What the user can do about it. */
  hint?: string;
  errors?: { field: string; message: string }[];
}
