//! Checks every service's tests make of its binary and of its `/metrics`,
//! the processes they start ([`TestProcess`]), and the webhook
//! [`Receiver`] of the tests that send webhooks (feature `testing`).

#![allow(clippy::expect_used)]

mod receiver;

pub use receiver::{Received, Receiver};

/// The sources of the crates every service reads variables through.
const SHARED_SOURCES: [&str; 5] = [
    include_str!("../../argus-store/src/lib.rs"),
    include_str!("../../argus-telemetry/src/lib.rs"),
    include_str!("../../argus-telemetry/src/config.rs"),
    include_str!("../../argus-telemetry/src/otlp/config.rs"),
    include_str!("../../argus-spans/src/lib.rs"),
];

/// Every `ARGUS_*` or `OTEL_*` variable quoted in `config_source` (a
/// service's `config.rs`) or in the shared crates is in the service's
/// `--help` of `environment` parts.
pub fn assert_help_lists_every_variable(environment: &[&str], config_source: &str) {
    let help = crate::cli::environment_help(environment);
    for source in std::iter::once(config_source).chain(SHARED_SOURCES) {
        for quoted in source.split('"').skip(1).step_by(2) {
            let name = quoted.trim();
            let is_variable = (name.starts_with("ARGUS_") || name.starts_with("OTEL_"))
                && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            assert!(!is_variable || help.contains(name), "{name} is read but not in --help");
        }
    }
}

/// The binary at `path` answers `--version` with `name version`, `--help`
/// with the variables, and refuses an unknown argument with status 2.
pub fn assert_binary_answers_flags(path: &str, name: &str, version: &str) {
    let run = |arg: &str| std::process::Command::new(path).arg(arg).output().expect("the binary runs");
    let answered = run("--version");
    assert!(answered.status.success());
    assert_eq!(String::from_utf8_lossy(&answered.stdout).trim(), format!("{name} {version}"));
    let help = run("--help");
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(help.contains("ARGUS_DATABASE_URL") && help.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{help}");
    assert_eq!(run("--frobnicate").status.code(), Some(2), "an unknown argument is refused");
}

/// Serves the route `route` makes at `path` on a free port of 127.0.0.1
/// (one worker), for a test's stand-in of a service; its base URL.
pub fn serve_route(path: &'static str, route: impl Fn() -> actix_web::Route + Send + Clone + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("a bound address").port();
    let server = actix_web::HttpServer::new(move || actix_web::App::new().route(path, route()))
        .workers(1)
        .listen(listener)
        .expect("listening")
        .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// The value of a hidden form field in a page an auth-service rendered
/// (its sign-in and consent forms), unescaped.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in {html}")) + marker.len();
    let end = start + html[start..].find('"').expect("the value's closing quote");
    html[start..end]
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#43;", "+")
        .replace("&#61;", "=")
        .replace("&#47;", "/")
}

/// What `look` sees once `enough` says it will do, or once `within` has
/// passed (the test then checks what it got).
pub async fn poll<T>(within: std::time::Duration, mut look: impl FnMut() -> T, enough: impl Fn(&T) -> bool) -> T {
    let until = std::time::Instant::now() + within;
    loop {
        let seen = look();
        if enough(&seen) || std::time::Instant::now() > until {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A process a test started (a binary under test, a browser's driver):
/// killed and reaped when dropped, so a test that fails leaves none
/// running.
pub struct TestProcess(std::process::Child);

impl TestProcess {
    pub fn spawn(command: &mut std::process::Command) -> std::io::Result<Self> {
        command.spawn().map(Self)
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Its standard output, once, when the command piped it.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.0.stdout.take()
    }

    /// Sends SIGTERM, as Kubernetes stops a pod.
    pub fn sigterm(&self) {
        let sent = std::process::Command::new("kill").args(["-TERM", &self.id().to_string()]).status();
        assert!(sent.expect("kill runs").success(), "SIGTERM sent");
    }

    /// How it exited, waiting at most `within` (after a
    /// [`TestProcess::sigterm`]); fails the test beyond.
    pub async fn wait_for_exit(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let until = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.0.try_wait().expect("the child's status") {
                return status;
            }
            assert!(std::time::Instant::now() < until, "did not exit within {within:?} of SIGTERM");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, which leaves it no chance to finish anything, and waits
    /// until it is gone.
    pub fn kill(&mut self) {
        self.0.kill().expect("SIGKILL sent");
        self.0.wait().expect("the killed child reaped");
    }

    /// Its peak resident set (`VmHWM`), in KiB, while it runs.
    pub fn peak_resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.id())).expect("the process's status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("a VmHWM line");
        line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmHWM in kB")
    }
}

impl Drop for TestProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scrape of `/metrics`, read as far as the tests need: each sample's
/// name, labels and value. Hand-written: the lines Argus exposes are plain
/// `name{label="value",…} value`, and the parser crates bring regex and an
/// older itertools into a test helper.
#[derive(Debug)]
pub struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Scrape {
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
                let value = value.parse().unwrap_or_else(|_| panic!("a sample's value is a number: {line}"));
                let (name, labels) = match series.split_once('{') {
                    Some((name, rest)) => (name, labels(rest.strip_suffix('}').expect("labels end with }"))),
                    None => (series, Vec::new()),
                };
                Sample { name: name.to_owned(), labels, value }
            })
            .collect();
        Self { text: text.to_owned(), samples }
    }

    /// The sum of the samples of `name` that carry every one of `labels`;
    /// `None` when there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.iter().any(|(l, w)| l == k && w == v)))
            .map(|s| s.value)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }

    /// Like [`Scrape::value`], failing the test when there is no such
    /// sample.
    pub fn expect(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or_else(|| panic!("no {name} with {labels:?} in\n{}", self.text))
    }

    /// The values label `label` takes across the samples of `name`.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .samples
            .iter()
            .filter(|s| s.name == name)
            .filter_map(|s| s.labels.iter().find(|(l, _)| l == label).map(|(_, v)| v.clone()))
            .collect();
        values.sort();
        values.dedup();
        values
    }

    /// Every `argus_` sample is a metric of the catalog, with exactly the
    /// catalog's labels (and `le` on a histogram's buckets), and its
    /// `# TYPE` line says the catalog's type.
    pub fn assert_in_catalog(&self) {
        use argus_telemetry::metrics::catalog::metric_of_series;
        for sample in self.samples.iter().filter(|s| s.name.starts_with("argus_")) {
            let metric =
                metric_of_series(&sample.name).unwrap_or_else(|| panic!("{} is not in the catalog", sample.name));
            let mut names: Vec<&str> = sample.labels.iter().map(|(l, _)| l.as_str()).filter(|l| *l != "le").collect();
            let mut expected = metric.labels.to_vec();
            if metric.name == argus_telemetry::metrics::catalog::BUILD_INFO.name {
                // `git_sha` only when the build was given one.
                expected.retain(|l| names.contains(l));
            }
            names.sort_unstable();
            expected.sort_unstable();
            assert_eq!(names, expected, "labels of {}", sample.name);
            let kind = metric.kind.as_str();
            assert!(self.text.contains(&format!("# TYPE {} {kind}\n", metric.name)), "# TYPE of {}", metric.name);
        }
    }
}

/// `a="1",b="x \"y\""` as pairs, escapes undone.
fn labels(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        pairs.push((name.trim_start_matches(',').to_owned(), value));
        rest = &after[end..];
    }
    pairs
}
