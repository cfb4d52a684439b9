//! What one SAML sign-in costs Latchkey's server in the protocol layer:
//! verifying a response SimpleSAMLphp signed (xmlsec signature check,
//! reduction to the signed subtree, the checks around it), with and
//! without an encrypted assertion. Prints CPU ms per verification from
//! /proc/self/stat; not a test, nothing fails on a figure.
//!
//! `cargo bench -p server --features app/ssr --bench saml_verify`
//! (needs `simplesamlphp php-cli php-xml`, as `.ci/test` installs).

use app::saml::idp_metadata::IdpMetadata;
use app::saml::sp_key::SpKey;
use app::saml::verify::{Expectations, verify_response};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SP: &str = "https://latchkey.bench/saml/org_1/metadata";
const ACS: &str = "http://127.0.0.1:9/saml/org_1/acs";
const N: u32 = 300;

fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the
    // 12th, stime the 13th, in clock ticks (100 per second here).
    let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split(' ').collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}

fn input(body: &str, name: &str) -> Option<String> {
    body.split("<input").skip(1).find_map(|tag| {
        let tag = tag.split('>').next()?;
        tag.contains(&format!("name=\"{name}\"")).then(|| {
            tag.split("value=\"")
                .nth(1)
                .and_then(|v| v.split('"').next())
                .unwrap_or_default()
                .replace("&#43;", "+")
                .replace("&#x2B;", "+")
                .replace("&#61;", "=")
                .replace("&#x3D;", "=")
                .replace("&amp;", "&")
        })
    })
}

/// Signs in at SimpleSAMLphp (IdP-initiated) and returns the SAMLResponse.
async fn response_from(base: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut cookies: HashMap<String, String> = HashMap::new();
    let mut url = format!("{base}/saml2/idp/SSOService.php?spentityid={SP}");
    let mut form: Option<Vec<(String, String)>> = None;
    for _ in 0..10 {
        let cookie = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = match form.take() {
            Some(f) => http.post(&url).form(&f),
            None => http.get(&url),
        };
        let res = req
            .header("cookie", cookie)
            .send()
            .await
            .expect("IdP request");
        for set in res.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap_or("").split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        if res.status().is_redirection() {
            let next = res.headers()["location"]
                .to_str()
                .expect("location")
                .to_owned();
            url = reqwest::Url::parse(&url)
                .expect("url")
                .join(&next)
                .expect("join")
                .to_string();
            continue;
        }
        let body = res.text().await.expect("body");
        if let Some(r) = input(&body, "SAMLResponse") {
            return r;
        }
        let state = input(&body, "AuthState").expect("login form");
        form = Some(vec![
            ("username".into(), "ada".into()),
            ("password".into(), "ada-password".into()),
            ("AuthState".into(), state),
        ]);
    }
    panic!("no SAMLResponse from SimpleSAMLphp");
}

fn measure(label: &str, response: &str, md: &IdpMetadata, expect: &Expectations<'_>) {
    verify_response(response, md, expect).expect("the response verifies");
    let (cpu0, t0) = (cpu_ms(), Instant::now());
    let mut walls = Vec::with_capacity(N as usize);
    for _ in 0..N {
        let t = Instant::now();
        let v = verify_response(response, md, expect);
        walls.push(t.elapsed());
        assert!(v.is_ok());
    }
    let cpu = (cpu_ms() - cpu0) / f64::from(N);
    walls.sort();
    let p = |q: f64| walls[((walls.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "{label:<28} {N} verifications in {:.2} s: CPU {cpu:.2} ms each, wall p50 {:.2} ms, p99 {:.2} ms",
        t0.elapsed().as_secs_f64(),
        p(0.5),
        p(0.99)
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let dir = std::env::temp_dir().join(format!("latchkey-saml-bench-{}", std::process::id()));
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/saml-idp/run.sh");
    let mut child = std::process::Command::new(script)
        .arg(port.to_string())
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("end2end/saml-idp/run.sh");
    let base = format!("http://127.0.0.1:{port}/simplesaml");
    let metadata_url = format!("{base}/saml2/idp/metadata.php");
    let mut xml = None;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(&metadata_url).await
            && r.status().is_success()
        {
            xml = r.text().await.ok();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let md = IdpMetadata::parse(&xml.expect("SimpleSAMLphp started")).expect("metadata");
    let register = |encrypt: Option<&str>| {
        let enc = encrypt
            .map(|c| format!("'assertion.encryption' => true, 'certData' => '{c}',"))
            .unwrap_or_default();
        std::fs::write(
            dir.join("metadata/saml20-sp-remote.php"),
            format!("<?php $metadata['{SP}'] = ['AssertionConsumerService' => '{ACS}', 'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', {enc}];"),
        )
        .expect("SP metadata");
    };
    let expect = Expectations {
        sp_entity_id: SP,
        acs_url: ACS,
        request_ids: &[],
        allow_idp_initiated: true,
        allow_sha1: false,
        allow_aes_cbc: false,
        decryption_key: None,
    };

    register(None);
    let plain = response_from(&base).await;
    measure("signed response + assertion", &plain, &md, &expect);

    let key = SpKey::generate("bench", 2).expect("key");
    register(Some(&key.cert_b64()));
    let encrypted = response_from(&base).await;
    let with_key = Expectations {
        decryption_key: Some(&key.key_der),
        ..expect
    };
    measure("encrypted assertion", &encrypted, &md, &with_key);

    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
