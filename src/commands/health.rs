//! `pyrowire health [URL]`: asks a running pyrowire whether it is alive, for a container's
//! `HEALTHCHECK` (the image has no curl or wget). Exits 0 when the URL answers 200 within
//! [`HEALTH_BOUND`], 1 otherwise. The URL is `http://127.0.0.1:$PORT/health/live` by default
//! (port 8080 when `PORT` is unset).

use std::time::Duration;

/// The most a check takes, connecting and reading included.
pub const HEALTH_BOUND: Duration = Duration::from_secs(5);

/// The port asked when `PORT` is unset, as in the container image.
const DEFAULT_PORT: u16 = 8080;

/// Why the check failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The URL is not an http(s) URL.
    #[error("`{0}` is not an http:// or https:// URL")]
    BadUrl(String),
    /// `PORT` is set to something that is not a port.
    #[error("PORT=`{0}` is not a port number")]
    BadPort(String),
    /// It answered, but not 200.
    #[error("{url} answered {status}")]
    Unhealthy {
        /// What was asked.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// No answer came.
    #[error("{url} did not answer: {reason}")]
    NoAnswer {
        /// What was asked.
        url: String,
        /// What the HTTP client said, or that the bound passed.
        reason: String,
    },
}

/// The URL asked when none is given: `/health/live` on `$PORT` (else 8080) of this host.
pub fn default_url(port: Option<&str>) -> Result<String, HealthError> {
    let port = match port.map(str::trim).filter(|p| !p.is_empty()) {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(HealthError::BadPort(p.to_string())),
        },
    };
    Ok(format!("http://127.0.0.1:{port}/health/live"))
}

/// Checks `url` (or the default one): `Ok` with a line to print when it answers 200.
pub fn health(url: Option<&str>) -> Result<String, HealthError> {
    let url = match url {
        Some(url) => url.to_string(),
        None => default_url(std::env::var("PORT").ok().as_deref())?,
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(HealthError::BadUrl(url));
    }
    let no_answer = |reason: String| HealthError::NoAnswer {
        url: url.clone(),
        reason,
    };
    let status = actix_rt::System::new().block_on(async {
        let client = awc::Client::builder()
            .timeout(HEALTH_BOUND)
            .disable_redirects()
            .finish();
        let asked = client.get(url.as_str()).send();
        match actix_rt::time::timeout(HEALTH_BOUND, asked).await {
            Ok(Ok(response)) => Ok(response.status().as_u16()),
            Ok(Err(e)) => Err(no_answer(e.to_string())),
            Err(_) => Err(no_answer(format!(
                "no answer within {} s",
                HEALTH_BOUND.as_secs()
            ))),
        }
    })?;
    if status == 200 {
        Ok(format!("{url} answered 200\n"))
    } else {
        Err(HealthError::Unhealthy { url, status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_url_follows_port() {
        // Arrange
        let cases = [
            (None, Ok("http://127.0.0.1:8080/health/live")),
            (Some(""), Ok("http://127.0.0.1:8080/health/live")),
            (Some("9000"), Ok("http://127.0.0.1:9000/health/live")),
            (Some("0"), Err(())),
            (Some("http"), Err(())),
        ];

        for (port, expected) in cases {
            // Act
            let url = default_url(port);

            // Assert
            assert_eq!(
                url.map_err(|_| ()),
                expected.map(str::to_string),
                "{port:?}"
            );
        }
    }

    #[test]
    fn a_closed_port_fails_within_the_bound() {
        // Arrange: a port nothing listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let started = std::time::Instant::now();

        // Act
        let checked = health(Some(&format!("http://127.0.0.1:{port}/health/live")));

        // Assert
        assert!(
            matches!(checked, Err(HealthError::NoAnswer { .. })),
            "{checked:?}"
        );
        assert!(started.elapsed() <= HEALTH_BOUND + Duration::from_secs(1));
    }

    #[test]
    fn a_url_that_is_not_http_is_refused() {
        // Act
        let checked = health(Some("ftp://127.0.0.1/"));

        // Assert
        assert!(
            matches!(checked, Err(HealthError::BadUrl(_))),
            "{checked:?}"
        );
    }
}
