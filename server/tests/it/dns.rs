//! A real DNS server on 127.0.0.1 for the tests: answers TXT queries from
//! records the test publishes, NXDOMAIN otherwise, and stays silent for
//! names the test asks it to ignore (to exercise timeouts).

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;

type Records = Arc<Mutex<HashMap<String, Vec<Vec<String>>>>>;

#[derive(Clone)]
pub struct TestDns {
    pub addr: SocketAddr,
    records: Records,
    silent: Arc<Mutex<HashSet<String>>>,
}

impl TestDns {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind dns");
        let addr = socket.local_addr().expect("addr");
        let dns = Self {
            addr,
            records: Arc::default(),
            silent: Arc::default(),
        };
        let (records, silent) = (dns.records.clone(), dns.silent.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buf[..len]) else {
                    continue;
                };
                let Some(q) = query.queries.first().cloned() else {
                    continue;
                };
                let name = q.name.to_ascii().trim_end_matches('.').to_lowercase();
                if silent.lock().expect("lock").contains(&name) {
                    continue;
                }
                let mut resp = Message::response(query.metadata.id, query.metadata.op_code);
                resp.metadata.recursion_desired = query.metadata.recursion_desired;
                resp.metadata.recursion_available = true;
                resp.metadata.authoritative = true;
                resp.add_query(q.clone());
                let found = records.lock().expect("lock").get(&name).cloned();
                match found {
                    Some(txts) if q.query_type == RecordType::TXT => {
                        for strings in txts {
                            resp.add_answer(Record::from_rdata(
                                q.name.clone(),
                                60,
                                RData::TXT(TXT::new(strings)),
                            ));
                        }
                    }
                    Some(_) => {}
                    None => resp.metadata.response_code = ResponseCode::NXDomain,
                }
                if let Ok(bytes) = resp.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        dns
    }

    /// Adds one TXT record at `name`, made of `strings` (DNS splits long
    /// values into several strings; verifiers must join them).
    pub fn publish(&self, name: &str, strings: &[&str]) {
        self.records
            .lock()
            .expect("lock")
            .entry(name.to_lowercase())
            .or_default()
            .push(strings.iter().map(|s| (*s).to_owned()).collect());
    }

    pub fn silence(&self, name: &str) {
        self.silent
            .lock()
            .expect("lock")
            .insert(name.to_lowercase());
    }
}
