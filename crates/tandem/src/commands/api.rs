//! Reaching the admin API from the command line: its address (flag,
//! `TANDEM_API_URL`, the config file's `[admin] listen`) and credentials
//! (`TANDEM_API_TOKEN`, or `TANDEM_API_USER` and `TANDEM_API_PASSWORD`).

use super::block_on;
use crate::cli::ApiArgs;
use tandem_api::client::{get_json, Credentials};

/// The API's base URL.
fn base_url(args: &ApiArgs) -> Result<String, String> {
    if let Some(u) = args
        .url
        .clone()
        .or_else(|| std::env::var("TANDEM_API_URL").ok())
    {
        return Ok(u);
    }
    let Some(path) = &args.config else {
        return Ok("http://127.0.0.1:8080".into());
    };
    let config = tandem_config::Config::load(path).map_err(|e| e.to_string())?;
    let admin = config.admin.ok_or_else(|| {
        format!(
            "{}: no [admin] section: the node serves no API",
            path.display()
        )
    })?;
    let mut addr = admin.listen_addr();
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::IpAddr::from([127, 0, 0, 1]));
    }
    let scheme = if admin.tls.is_some() { "https" } else { "http" };
    Ok(format!("{scheme}://{addr}"))
}

fn credentials() -> Result<Credentials, String> {
    if let Ok(t) = std::env::var("TANDEM_API_TOKEN") {
        return Ok(Credentials::Token(t));
    }
    match (
        std::env::var("TANDEM_API_USER"),
        std::env::var("TANDEM_API_PASSWORD"),
    ) {
        (Ok(name), Ok(password)) => Ok(Credentials::User { name, password }),
        _ => Err("set TANDEM_API_TOKEN, or TANDEM_API_USER and TANDEM_API_PASSWORD".into()),
    }
}

/// GETs `path` from the API.
pub(crate) fn get(args: &ApiArgs, path: &str) -> Result<serde_json::Value, String> {
    let base = base_url(args)?;
    let creds = credentials()?;
    block_on(get_json(&base, path, &creds)).map_err(|e| e.to_string())
}
