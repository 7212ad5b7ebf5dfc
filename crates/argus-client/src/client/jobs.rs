//! Async jobs at the api-service: created with an `Idempotency-Key`,
//! polled or waited for, their results read whole or streamed as NDJSON.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt, TryStreamExt, stream};
use reqwest::header::HeaderName;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ArgusClient, Call, Host, segment};
use crate::error::{Error, Result};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    /// Imports NDJSON entities, relationships and incidents.
    #[serde(rename = "import.bulk")]
    ImportBulk,
    /// Exports the tenant's data as NDJSON.
    #[serde(rename = "export.bulk")]
    ExportBulk,
    /// Graph algorithms over the tenant's entities.
    #[serde(rename = "graph.compute")]
    GraphCompute,
    /// Entity enrichment and link suggestions.
    #[serde(rename = "intelligence.enrich.bulk")]
    IntelligenceEnrichBulk,
    /// A kind newer than this SDK.
    #[serde(other)]
    Other,
}

impl JobKind {
    fn as_str(self) -> Option<&'static str> {
        match self {
            Self::ImportBulk => Some("import.bulk"),
            Self::ExportBulk => Some("export.bulk"),
            Self::GraphCompute => Some("graph.compute"),
            Self::IntelligenceEnrichBulk => Some("intelligence.enrich.bulk"),
            Self::Other => None,
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker runs it.
    Running,
    /// Done; its result can be read.
    Succeeded,
    /// Done, with `error`.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobStatus {
    /// Whether the job has finished for good.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// `POST /v1/jobs`'s body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewJob {
    /// What to run.
    pub kind: JobKind,
    /// The kind's input (`import.bulk`: `{"ndjson": "…"}`; `graph.compute`:
    /// `{"algorithms": […]}`; see the API reference).
    pub input: Value,
    /// Where to POST the finished job, signed like a webhook with the
    /// response's `callback_secret` (`https`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

/// A job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Job {
    /// `job_…`.
    pub id: String,
    /// What it does.
    pub kind: JobKind,
    /// Where it is.
    pub status: JobStatus,
    /// 0 to 1.
    pub progress: f64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When a worker took it.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<Value>,
    /// Whether a cancellation was asked for.
    pub cancel_requested: bool,
    /// Where its result is, once it succeeded.
    #[serde(default)]
    pub result_url: Option<String>,
    /// When its result is deleted.
    #[serde(default)]
    pub result_expires_at: Option<DateTime<Utc>>,
    /// Where the finished job is posted.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// The callback's delivery state.
    #[serde(default)]
    pub callback_status: Option<String>,
    /// The callback's signing secret: only in the create response.
    #[serde(default)]
    pub callback_secret: Option<String>,
}

page!(JobList, jobs, Job);

/// Which jobs to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only in this state.
    pub status: Option<JobStatus>,
    /// Only of this kind.
    pub kind: Option<JobKind>,
    /// Page size, 1 to 100.
    pub page_size: Option<u32>,
}

/// The longest NDJSON line the result stream holds.
const MAX_LINE: usize = 16 * 1024 * 1024;

impl ArgusClient {
    /// `POST /v1/jobs` (`jobs:write`) with a new `Idempotency-Key`, so a
    /// retry after a lost answer returns the same job instead of a second.
    pub async fn create_job(&self, job: &NewJob) -> Result<Job> {
        self.create_job_with_key(job, &ulid::Ulid::generate().to_string()).await
    }

    /// `POST /v1/jobs` with the caller's `Idempotency-Key` (1 to 255
    /// printable ASCII characters; kept 24 h): the same key and body
    /// return the first answer again.
    pub async fn create_job_with_key(&self, job: &NewJob, idempotency_key: &str) -> Result<Job> {
        let call = Call::post(Host::Api, "/v1/jobs")
            .json(job)?
            .header(HeaderName::from_static("idempotency-key"), idempotency_key)
            .idempotent(true);
        self.json(&call).await
    }

    /// `GET /v1/jobs/{id}`.
    pub async fn job(&self, id: &str) -> Result<Job> {
        self.json(&Call::get(Host::Api, format!("/v1/jobs/{}", segment(id)))).await
    }

    /// `GET /v1/jobs`: every page, oldest first.
    pub fn list_jobs(&self, filter: JobFilter) -> impl Stream<Item = Result<Job>> + Send + 'static {
        let call = Call::get(Host::Api, "/v1/jobs")
            .query("status", filter.status.map(JobStatus::as_str))
            .query("kind", filter.kind.and_then(JobKind::as_str))
            .query("limit", filter.page_size);
        self.paginate::<JobList>(call)
    }

    /// `DELETE /v1/jobs/{id}`: cancels a queued job at once, a running one
    /// at its next checkpoint.
    pub async fn cancel_job(&self, id: &str) -> Result<Job> {
        self.json(&Call::new(reqwest::Method::DELETE, Host::Api, format!("/v1/jobs/{}", segment(id)))).await
    }

    /// Polls the job every `every` until it is terminal: the succeeded job,
    /// or [`Error::Job`] when it failed, was cancelled or `timeout` passed.
    pub async fn wait_for_job(&self, id: &str, every: Duration, timeout: Duration) -> Result<Job> {
        let deadline = Instant::now() + timeout;
        loop {
            let job = self.job(id).await?;
            match job.status {
                JobStatus::Succeeded => return Ok(job),
                JobStatus::Failed | JobStatus::Cancelled => {
                    let reason = format!("{} {}", job.status.as_str(), job.error.unwrap_or(Value::Null));
                    return Err(Error::Job { id: job.id, reason });
                }
                JobStatus::Queued | JobStatus::Running if Instant::now() + every > deadline => {
                    let reason = format!("still {} after {timeout:?}", job.status.as_str());
                    return Err(Error::Job { id: job.id, reason });
                }
                JobStatus::Queued | JobStatus::Running => tokio::time::sleep(every).await,
            }
        }
    }

    /// `GET /v1/jobs/{id}/result` of a JSON result (`graph.compute`,
    /// `intelligence.enrich.bulk`, `import.bulk`'s report).
    pub async fn job_result<T: DeserializeOwned>(&self, id: &str) -> Result<T> {
        self.json(&Call::get(Host::Api, format!("/v1/jobs/{}/result", segment(id)))).await
    }

    /// `GET /v1/jobs/{id}/result` of an NDJSON result (`export.bulk`), one
    /// line at a time as it arrives, each read into `T`.
    pub async fn job_result_lines<T: DeserializeOwned + Send + 'static>(
        &self,
        id: &str,
    ) -> Result<impl Stream<Item = Result<T>> + Send + 'static> {
        let response = self.send(&Call::get(Host::Api, format!("/v1/jobs/{}/result", segment(id)))).await?;
        Ok(ndjson(response.bytes_stream().map_err(Error::from)))
    }
}

/// The lines of an NDJSON byte stream, each parsed; blank lines skipped.
fn ndjson<T, B, S>(bytes: S) -> impl Stream<Item = Result<T>> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
    B: AsRef<[u8]>,
    S: Stream<Item = Result<B>> + Send + 'static,
{
    let state = (Box::pin(bytes), Vec::<u8>::new(), false);
    stream::try_unfold(state, |(mut bytes, mut buffer, mut ended)| async move {
        loop {
            if let Some(newline) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=newline).collect();
                let lines: Vec<Result<T>> = parse_line::<T>(&line)?.into_iter().map(Ok).collect();
                return Ok(Some((stream::iter(lines), (bytes, buffer, ended))));
            }
            if ended {
                let rest = std::mem::take(&mut buffer);
                return match parse_line::<T>(&rest)? {
                    Some(value) => Ok(Some((stream::iter(vec![Ok(value)]), (bytes, buffer, ended)))),
                    None => Ok(None),
                };
            }
            match bytes.next().await {
                Some(chunk) => {
                    buffer.extend_from_slice(chunk?.as_ref());
                    if buffer.len() > MAX_LINE && !buffer.contains(&b'\n') {
                        return Err(Error::Unexpected { status: 200, body: "an NDJSON line is over 16 MiB".into() });
                    }
                }
                None => ended = true,
            }
        }
    })
    .try_flatten()
}

fn parse_line<T: DeserializeOwned>(line: &[u8]) -> Result<Option<T>> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() { Ok(None) } else { Ok(Some(serde_json::from_slice(trimmed)?)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ndjson_lines_are_split_across_chunks() {
        let chunks: Vec<Result<&'static [u8]>> = vec![Ok(b"{\"a\":1}\n{\"a\""), Ok(b":2}\n\n"), Ok(b"{\"a\":3}")];
        let values: Vec<Value> = ndjson(stream::iter(chunks)).try_collect().await.unwrap();
        assert_eq!(values, vec![serde_json::json!({"a": 1}), serde_json::json!({"a": 2}), serde_json::json!({"a": 3})]);
        let bad: Vec<Result<&'static [u8]>> = vec![Ok(b"{\"a\":1}\nnot json\n")];
        let read: Vec<Result<Value>> = ndjson(stream::iter(bad)).collect().await;
        assert!(read[0].is_ok() && read[1].is_err());
    }
}
