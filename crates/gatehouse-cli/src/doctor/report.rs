//! What the doctor found: one line per check, each problem with its fix.

use gatehouse::config::ConfigProblem;
use serde::Serialize;

use crate::level::Level;

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub area: &'static str,
    pub level: Level,
    pub message: String,
    /// What to do; absent on a pass.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Fail)
    }

    pub(crate) fn pass(&mut self, area: &'static str, message: impl Into<String>) {
        self.push(area, Level::Pass, message, None::<String>);
    }

    pub(crate) fn push(
        &mut self,
        area: &'static str,
        level: Level,
        message: impl Into<String>,
        fix: Option<impl Into<String>>,
    ) {
        self.findings.push(Finding {
            area,
            level,
            message: message.into(),
            fix: fix.map(Into::into),
        });
    }

    pub(super) fn problem(&mut self, level: Level, problem: &ConfigProblem) {
        self.push(
            "configuration",
            level,
            format!("{}: {}", problem.variable, problem.problem),
            Some(problem.fix.clone()),
        );
    }
}
