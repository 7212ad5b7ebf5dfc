//! What only the api-service's own tests use, beside the stack under test
//! ([`crate::stack`], which the SDK's tests share).

use std::path::Path;

use argus_http::testing::TestProcess;
use serde_json::Value;

pub use crate::stack::*;

/// Another service's binary, beside the api-service's: a workspace test
/// run (`just test`) builds it; it is built here only when missing
/// (`-p api-service` alone: build it too when its code changed), never
/// rebuilt under its own package's tests, which run it at the same time.
pub fn sibling_binary(name: &str) -> std::path::PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_api-service")).parent().unwrap().join(name);
    if !binary.exists() {
        let built = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", name, "--bin", name])
            .status()
            .unwrap();
        assert!(built.success(), "building {name} failed");
    }
    binary
}

/// The real api-service binary against a stack's database and JWKS, on a
/// port of its choosing; killed on drop.
pub struct ApiBinary {
    pub process: TestProcess,
    pub base: String,
}

impl ApiBinary {
    pub fn spawn(stack: &Stack, extra_env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let mut process = TestProcess::spawn(
            std::process::Command::new(env!("CARGO_BIN_EXE_api-service"))
                .env("ARGUS_DATABASE_URL", stack.db.url())
                .env("ARGUS_ISSUER", ISSUER)
                .env("ARGUS_JWKS_URL", stack.jwks_url())
                .env("ARGUS_API_ADDR", "127.0.0.1:0")
                .env("ARGUS_API_ADMIN_ADDR", "127.0.0.1:0")
                .env("ARGUS_LOG_FORMAT", "json")
                .env("RUST_LOG", "info")
                .envs(extra_env.iter().copied())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null()),
        )
        .unwrap();
        // The port is in the start-up log line.
        let mut lines = std::io::BufReader::new(process.take_stdout().unwrap()).lines();
        let port = loop {
            let line = lines.next().expect("api-service exited before listening").unwrap();
            if let Ok(log) = serde_json::from_str::<Value>(&line)
                && log["fields"]["message"] == "api-service listening"
            {
                break log["fields"]["port"].as_u64().unwrap();
            }
        };
        // Keep draining the log so the binary never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { process, base: format!("http://127.0.0.1:{port}") }
    }
}

/// `schema` compiled as JSON Schema 2020-12 (boon checks it against the
/// dialect's meta-schema as it compiles), formats asserted.
pub fn compile_schema(schema: &Value) -> (boon::Schemas, boon::SchemaIndex) {
    let location = schema["$id"].as_str().unwrap_or("https://test.invalid/schema.json").to_owned();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    compiler.enable_format_assertions();
    compiler.add_resource(&location, schema.clone()).unwrap();
    let index = compiler.compile(&location, &mut schemas).unwrap_or_else(|e| panic!("{location}: {e:#}"));
    (schemas, index)
}

/// Whether `instance` is valid against `schema` (2020-12), with the errors.
pub fn validate_against(schema: &Value, instance: &Value) -> Result<(), String> {
    let (schemas, index) = compile_schema(schema);
    schemas.validate(instance, index).map_err(|e| format!("{e:#}"))
}

/// Runs `scripts/{script}` with `args`, then the JSON `inputs` written to
/// files (named `{name}.json`) in a temporary directory: its exit status
/// (`None` if killed) and its output, stdout then stderr.
pub fn run_checker(script: &str, args: &[&str], inputs: &[(&str, &Value)]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("argus-check-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<std::path::PathBuf> = inputs
        .iter()
        .map(|(name, input)| {
            let file = dir.join(format!("{name}.json"));
            std::fs::write(&file, serde_json::to_vec_pretty(input).unwrap()).unwrap();
            file
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts").join(script);
    let out = std::process::Command::new("bash").arg(script).args(args).args(&files).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}
