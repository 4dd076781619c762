import type { Static } from 'typebox';
import type {
  VerdictEventSchema,
  ApiErrorSchema,
  EnrolWorkerRequestSchema,
  SubmitterRequestSchema,
  SourceMappingRequestSchema,
  EnrolWorkerAnswerSchema,
  PackageViewSchema,
  RebuildViewSchema,
  RejectionViewSchema,
  ReleaseViewSchema,
  SourceMappingViewSchema,
  SubmitReleaseRequestSchema,
  WorkerViewSchema,
} from './api-schemas.js';
import type { RebuildReport, RebuildState, ReleaseRecord, VerdictRecord } from './records.js';
import type { PurlAnswer } from './answer.js';

/** Body of `POST /v1/releases`. */
export type SubmitReleaseRequest = Static<typeof SubmitReleaseRequestSchema>;

/** Error body of every 4xx/5xx answer. */
export type ApiErrorBody = Static<typeof ApiErrorSchema>;

/** One builder's attempt as served by the API: its state plus what its worker reported. */
export type RebuildView = Static<typeof RebuildViewSchema>;

/** A release as served by the API: the stored record plus its history, rebuilds and links. */
export type ReleaseView = Static<typeof ReleaseViewSchema>;

/** Answer of `GET /v1/packages/:purl`: releases of the purl, newest first, and what answers for each version. */
export type PackageView = Static<typeof PackageViewSchema>;

/** A worker as served by `GET /v1/workers`. */
export type WorkerView = Static<typeof WorkerViewSchema>;

/** Body of `POST /v1/admin/workers`: enrol a key directly, or ask for a one-time token. */
export type EnrolWorkerRequest = Static<typeof EnrolWorkerRequestSchema>;

/** Body of `POST /v1/admin/submitters`. */
export type SubmitterRequest = Static<typeof SubmitterRequestSchema>;

/** Body of `PUT /v1/admin/source-mappings`. */
export type SourceMappingRequest = Static<typeof SourceMappingRequestSchema>;

/** Answer of `POST /v1/admin/workers`: the enrolled key id, or a one-time token for the worker's first start. */
export type EnrolWorkerAnswer = Static<typeof EnrolWorkerAnswerSchema>;

/** An operator's record of where a package's source lives (for packages whose registry entry declares none), as stored and served. */
export type SourceMappingView = Static<typeof SourceMappingViewSchema>;

/** One refused worker report or enrolment, as `GET /v1/admin/rejections` lists it (newest first). */
export type RejectionView = Static<typeof RejectionViewSchema>;

/** What a submitter's callback receives when its release is decided. */
export type VerdictEvent = Static<typeof VerdictEventSchema>;
