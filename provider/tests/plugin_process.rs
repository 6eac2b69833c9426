//! Launches the provider binary as Terraform does and speaks gRPC to it: handshake,
//! plain text and AutoMTLS, schema, and Shutdown ending the process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use ipai_provider::plugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use ipai_provider::proto::{plugin, tfplugin6};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-ipai");

fn launch(client_cert: Option<&str>) -> (Child, Vec<String>) {
    let mut cmd = Command::new(BIN);
    cmd.env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(c) = client_cert {
        cmd.env("PLUGIN_CLIENT_CERT", c);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let fields = line.trim_end().split('|').map(String::from).collect();
    (child, fields)
}

fn wait_exit(child: &mut Child, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    false
}

async fn exercise(channel: Channel, child: &mut Child) {
    let mut provider = tfplugin6::provider_client::ProviderClient::new(channel.clone());
    let schema = provider
        .get_provider_schema(tfplugin6::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.resource_schemas.contains_key("ipai_workbench"));
    assert!(
        schema
            .server_capabilities
            .unwrap()
            .get_provider_schema_optional
    );
    let stop = provider
        .stop_provider(tfplugin6::stop_provider::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(stop.error.is_empty());
    plugin::grpc_controller_client::GrpcControllerClient::new(channel)
        .shutdown(plugin::Empty {})
        .await
        .unwrap();
    assert!(
        wait_exit(child, Duration::from_secs(2)),
        "the process must end promptly after Shutdown"
    );
}

#[tokio::test]
async fn plain_text_handshake_schema_and_shutdown() {
    let (mut child, f) = launch(None);
    assert_eq!(&f[..3], ["1", "6", "tcp"]);
    assert!(f[3].starts_with("127.0.0.1:"), "{f:?}");
    assert_eq!((f[4].as_str(), f[5].as_str()), ("grpc", ""));
    let channel = Endpoint::from_shared(format!("http://{}", f[3]))
        .unwrap()
        .connect()
        .await
        .unwrap();
    exercise(channel, &mut child).await;
}

#[tokio::test]
async fn auto_mtls_serves_the_certificate_from_the_handshake() {
    let (mut child, f) = launch(Some("-----BEGIN CERTIFICATE-----\n"));
    let der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&f[5])
        .unwrap();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pem))
        .domain_name("localhost");
    let channel = Endpoint::from_shared(format!("https://{}", f[3]))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    exercise(channel, &mut child).await;
}

#[test]
fn refuses_to_run_without_terraform() {
    let out = Command::new(BIN)
        .env_remove(MAGIC_COOKIE_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("plugin for Terraform"));
}

#[test]
fn debug_mode_prints_the_reattach_value() {
    let mut child = Command::new(BIN)
        .arg("--debug")
        .env_remove(MAGIC_COOKIE_KEY)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    while !text.contains("TF_REATTACH_PROVIDERS='") {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        text.push_str(&line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let value = text
        .split("TF_REATTACH_PROVIDERS='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(value).unwrap();
    assert_eq!(
        v["registry.terraform.io/insightpulseai/ipai"]["Protocol"],
        "grpc"
    );
}
