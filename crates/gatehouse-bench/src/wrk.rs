//! Runs `wrk` and reads its report.
//!
//! wrk prints the `Socket errors` and `Non-2xx or 3xx responses` lines only
//! when they are not zero; absent means zero. Despite its wording, the second
//! counts every status of 400 or more (3xx are not counted), which is why the
//! harness checks for a 200 itself before each load run.

use std::process::Command;

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub requests: u64,
    pub seconds: f64,
    pub requests_per_sec: f64,
    pub latency_avg_ms: f64,
    pub latency_stdev_ms: f64,
    pub latency_max_ms: f64,
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
    pub errors_connect: u64,
    pub errors_read: u64,
    pub errors_write: u64,
    pub errors_timeout: u64,
}

impl Load {
    pub fn socket_errors(&self) -> u64 {
        self.errors_connect + self.errors_read + self.errors_write + self.errors_timeout
    }

    pub fn to_json(&self) -> Value {
        json!({
            "requests": self.requests,
            "seconds": self.seconds,
            "requests_per_sec": self.requests_per_sec,
            "latency_ms": {
                "avg": self.latency_avg_ms,
                "stdev": self.latency_stdev_ms,
                "max": self.latency_max_ms,
                "p50": self.p50_ms,
                "p75": self.p75_ms,
                "p90": self.p90_ms,
                "p99": self.p99_ms,
            },
            "non_2xx": self.non_2xx,
            "socket_errors": {
                "connect": self.errors_connect,
                "read": self.errors_read,
                "write": self.errors_write,
                "timeout": self.errors_timeout,
            },
        })
    }
}

#[derive(Debug, Clone)]
pub struct Settings<'a> {
    pub threads: u32,
    pub connections: u32,
    pub duration: &'a str,
    pub headers: &'a [&'a str],
}

impl Settings<'_> {
    /// The command line, for the report.
    pub fn command_line(&self, url: &str) -> String {
        let mut line = format!(
            "wrk -t{} -c{} -d{} --latency",
            self.threads, self.connections, self.duration
        );
        for header in self.headers {
            line.push_str(&format!(" -H '{header}'"));
        }
        line.push(' ');
        line.push_str(url);
        line
    }
}

/// Runs wrk to the end and parses its report; the raw output comes back too.
pub fn run(settings: &Settings<'_>, url: &str) -> Result<(Load, String), String> {
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{}", settings.threads))
        .arg(format!("-c{}", settings.connections))
        .arg(format!("-d{}", settings.duration))
        .arg("--latency");
    for header in settings.headers {
        command.arg("-H").arg(header);
    }
    let output = command
        .arg(url)
        .output()
        .map_err(|err| format!("could not run wrk ({err}); install it: apt-get install -y wrk"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "`{}` failed ({}):\n{stdout}{}",
            settings.command_line(url),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let load = parse(&stdout)
        .map_err(|problem| format!("unexpected wrk output ({problem}):\n{stdout}"))?;
    Ok((load, stdout))
}

pub fn parse(out: &str) -> Result<Load, String> {
    let mut load = Load {
        requests: 0,
        seconds: 0.0,
        requests_per_sec: f64::NAN,
        latency_avg_ms: f64::NAN,
        latency_stdev_ms: f64::NAN,
        latency_max_ms: f64::NAN,
        p50_ms: f64::NAN,
        p75_ms: f64::NAN,
        p90_ms: f64::NAN,
        p99_ms: f64::NAN,
        non_2xx: 0,
        errors_connect: 0,
        errors_read: 0,
        errors_write: 0,
        errors_timeout: 0,
    };
    let mut saw_requests = false;
    for line in out.lines() {
        let trimmed = line.trim();
        let tokens: Vec<&str> = trimmed.split_whitespace().collect();
        if tokens.first() == Some(&"Latency") && tokens.len() >= 4 {
            load.latency_avg_ms = millis(tokens[1])?;
            load.latency_stdev_ms = millis(tokens[2])?;
            load.latency_max_ms = millis(tokens[3])?;
        } else if tokens.len() == 2 && tokens[0].ends_with('%') {
            let value = millis(tokens[1])?;
            match tokens[0] {
                "50%" => load.p50_ms = value,
                "75%" => load.p75_ms = value,
                "90%" => load.p90_ms = value,
                "99%" => load.p99_ms = value,
                _ => {}
            }
        } else if tokens.len() >= 4 && tokens[1] == "requests" && tokens[2] == "in" {
            load.requests = count(tokens[0])?;
            load.seconds = millis(tokens[3].trim_end_matches(','))? / 1000.0;
            saw_requests = true;
        } else if let Some(rest) = trimmed.strip_prefix("Socket errors:") {
            for part in rest.split(',') {
                let mut words = part.split_whitespace();
                let (Some(kind), Some(value)) = (words.next(), words.next()) else {
                    return Err(format!("socket errors line: {trimmed}"));
                };
                let value = count(value)?;
                match kind {
                    "connect" => load.errors_connect = value,
                    "read" => load.errors_read = value,
                    "write" => load.errors_write = value,
                    "timeout" => load.errors_timeout = value,
                    _ => {}
                }
            }
        } else if let Some(rest) = trimmed.strip_prefix("Non-2xx or 3xx responses:") {
            load.non_2xx = count(rest.trim())?;
        } else if let Some(rest) = trimmed.strip_prefix("Requests/sec:") {
            load.requests_per_sec = rest
                .trim()
                .parse()
                .map_err(|_| format!("Requests/sec: {rest}"))?;
        }
    }
    if !saw_requests || load.requests_per_sec.is_nan() || load.p99_ms.is_nan() {
        return Err(
            "no requests count, Requests/sec or latency distribution (was --latency given?)"
                .to_owned(),
        );
    }
    Ok(load)
}

/// wrk's time figures (`812.34us`, `1.20ms`, `2.00s`, `1.00m`) in milliseconds.
fn millis(raw: &str) -> Result<f64, String> {
    let units = [
        ("us", 0.001),
        ("ms", 1.0),
        ("s", 1000.0),
        ("m", 60_000.0),
        ("h", 3_600_000.0),
    ];
    for (unit, scale) in units {
        if let Some(number) = raw.strip_suffix(unit) {
            return number
                .parse::<f64>()
                .map(|value| value * scale)
                .map_err(|_| format!("not a duration: {raw}"));
        }
    }
    Err(format!("not a duration: {raw}"))
}

/// wrk's counts: plain integers, or with a k/M/G suffix in per-thread stats.
fn count(raw: &str) -> Result<u64, String> {
    let (number, scale) = match raw.chars().last() {
        Some('k') => (&raw[..raw.len() - 1], 1e3),
        Some('M') => (&raw[..raw.len() - 1], 1e6),
        Some('G') => (&raw[..raw.len() - 1], 1e9),
        _ => (raw, 1.0),
    };
    if scale == 1.0 {
        return number
            .parse::<u64>()
            .map_err(|_| format!("not a count: {raw}"));
    }
    number
        .parse::<f64>()
        .map(|value| (value * scale).round() as u64)
        .map_err(|_| format!("not a count: {raw}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "Running 10s test @ http://127.0.0.1:4000/api/health
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.34us    1.20ms  30.00ms   92.00%
    Req/Sec    20.00k     1.00k   25.00k    70.00%
  Latency Distribution
     50%  600.00us
     75%    0.90ms
     90%    1.50ms
     99%    4.20ms
  400123 requests in 10.00s, 50.00MB read
Requests/sec:  40012.30
Transfer/sec:      5.00MB
";

    const FAILING: &str = "Running 2s test @ http://127.0.0.1:18099/nonexistent
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.56ms    7.57ms  77.50ms   91.45%
    Req/Sec   509.52    270.78     1.27k    72.50%
  Latency Distribution
     50%    2.93ms
     75%    6.93ms
     90%   12.27ms
     99%    1.02s
  2031 requests in 2.00s, 1.01MB read
  Socket errors: connect 0, read 3, write 0, timeout 12
  Non-2xx or 3xx responses: 2031
Requests/sec:   1013.54
Transfer/sec:    514.69KB
";

    #[test]
    fn parses_a_clean_run() -> Result<(), String> {
        let load = parse(CLEAN)?;
        assert_eq!(load.requests, 400_123);
        assert_eq!(load.seconds, 10.0);
        assert_eq!(load.requests_per_sec, 40012.3);
        assert!((load.latency_avg_ms - 0.81234).abs() < 1e-9);
        assert!((load.p50_ms - 0.6).abs() < 1e-9);
        assert_eq!((load.p75_ms, load.p90_ms, load.p99_ms), (0.9, 1.5, 4.2));
        assert_eq!((load.non_2xx, load.socket_errors()), (0, 0));
        Ok(())
    }

    #[test]
    fn parses_errors_and_seconds() -> Result<(), String> {
        let load = parse(FAILING)?;
        assert_eq!(load.non_2xx, 2031);
        assert_eq!(
            (load.errors_read, load.errors_timeout, load.socket_errors()),
            (3, 12, 15)
        );
        assert_eq!(load.p99_ms, 1020.0);
        Ok(())
    }

    #[test]
    fn refuses_output_without_figures() {
        assert!(parse("unable to connect to 127.0.0.1:1 Connection refused").is_err());
        assert!(
            parse(
                &CLEAN
                    .replace("  Latency Distribution\n", "")
                    .replace("99%", "")
            )
            .is_err()
        );
        assert_eq!(count("1.27k"), Ok(1270));
        assert!(millis("12").is_err());
    }
}
