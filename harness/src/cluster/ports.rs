//! Free loopback ports, and configs rewritten to use them (tests and throwaway clusters).

use std::net::TcpListener;

use anyhow::Context;
use serde_json::Value;

/// Asks the OS for `count` distinct free ports on 127.0.0.1.
pub fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .context("cannot bind a free port on 127.0.0.1")?;
    listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.port())
                .context("cannot read a bound port")
        })
        .collect()
}

/// The config text with every process moved to 127.0.0.1 on a fresh free port, plus the
/// strategy settings in `strategies` merged in.
pub fn localize(
    config_text: &str,
    strategies: &serde_json::Map<String, Value>,
) -> anyhow::Result<String> {
    let mut config: Value = serde_json::from_str(config_text).context("config is not JSON")?;
    let processes = config
        .get_mut("processes")
        .and_then(Value::as_object_mut)
        .context("config has no processes object")?;
    let ports = free_ports(processes.len())?;
    for (process, port) in processes.values_mut().zip(ports) {
        if let Some(process) = process.as_object_mut() {
            process.insert("host".to_string(), Value::from("127.0.0.1"));
            process.insert("port".to_string(), Value::from(port));
        }
    }
    if let Some(object) = config.as_object_mut() {
        let block = object
            .entry("strategies")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(block) = block.as_object_mut() {
            block.extend(strategies.clone());
        }
    }
    Ok(serde_json::to_string_pretty(&config)?)
}
